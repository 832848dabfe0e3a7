"""Browser reports (web pixel, storefront script): parsed strictly, kept, and joined with orders and sign-ups.

A report says "this order (or this sign-up) was made by a browser that had these touches". It counts
for an order only when it shows the order's secret (Shopify checkout token, WooCommerce order key),
which only the buyer's browser sees, so nobody can claim another shopper's order. The secret is kept
only as a SHA-256 hash, on the report and on the order, and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.core.attribution import ReportedTouch, match_key
from connector.campaigns.influencers import TRACKING_ID
from connector.errors import MalformedPayload
from connector.models import Click, Order, StorefrontReport

PURCHASE, SIGNUP = "purchase", "signup"
TOPIC_PREFIX = "storefront/"
MAX_TOUCHES = 10
MAX_REPORT_BYTES = 8 * 1024
CLICK_ID = re.compile(r"ck_[0-9a-f]{8,40}")
ORDER_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
HEX64 = re.compile(r"[0-9a-f]{64}")
#: a Shopify pixel may see the order id as a global id (gid://shopify/OrderIdentity/123)
GID = re.compile(r"gid://shopify/[A-Za-z]+/(\d{1,20})")


@dataclass(frozen=True)
class Report:
    store: str
    kind: str
    order_id: str | None
    proof: str | None
    customer_id: str | None
    email_sha256: str | None
    touches: tuple[ReportedTouch, ...]

    def canonical(self) -> bytes:
        """The stored body: what the worker reads back (the raw secret goes no further than its hash)."""
        return json.dumps({
            "v": 1, "store": self.store, "kind": self.kind, "order_id": self.order_id,
            "proof_sha256": proof_hash(self.proof), "customer_id": self.customer_id,
            "email_sha256": self.email_sha256,
            "touches": [{"ref": t.ref, "click_id": t.click_id, "at": t.at.isoformat()} for t in self.touches],
        }, separators=(",", ":"), sort_keys=True).encode()


def proof_hash(proof: str | None) -> str | None:
    return hashlib.sha256(proof.encode()).hexdigest() if proof else None


def proofs_match(stored: str | None, presented: str | None) -> bool:
    return bool(stored and presented and hmac.compare_digest(stored, presented))


def _string(data: dict, name: str, pattern: re.Pattern | None = None, *, limit: int = 200) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise MalformedPayload(f"{name} must be a string")
    value = str(value).strip()
    if len(value) > limit or (pattern is not None and not pattern.fullmatch(value)):
        raise MalformedPayload(f"{name} is not a valid value")
    if not _encodable(value):
        # JSON may carry lone surrogates ("\ud800"): hashing the proof or looking the store up would
        # fail on them later, as a 500 instead of this 400.
        raise MalformedPayload(f"{name} is not a valid value")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _time(value: object, now: datetime) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise MalformedPayload("touch time must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedPayload("touch time must be an ISO 8601 string") from None
    if moment.tzinfo is None:
        raise MalformedPayload("touch time needs a time zone")
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before year 1 in UTC
        raise MalformedPayload("touch time is out of range") from None
    # A browser clock ahead of ours must not put a touch after the order it led to.
    return min(moment, now)


def _platform_id(data: dict, name: str) -> str | None:
    """An order or customer id as the platform gives it (a Shopify pixel may give a gid: its number counts)."""
    value = _string(data, name, limit=120)
    if value is None:
        return None
    gid = GID.fullmatch(value)
    value = gid.group(1) if gid else value
    if not ORDER_ID.fullmatch(value):
        raise MalformedPayload(f"{name} is not a valid value")
    return value


def parse_report(raw: bytes, now: datetime) -> Report:
    """A report as the scripts send it; raises MalformedPayload naming what is wrong."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: 8 KiB of "[" nests deeper than the decoder goes
        raise MalformedPayload("the report is not JSON") from None
    if not isinstance(data, dict) or data.get("v") != 1:
        raise MalformedPayload("the report must be a JSON object with \"v\": 1")
    kind = data.get("kind")
    if kind not in (PURCHASE, SIGNUP):
        raise MalformedPayload("kind must be purchase or signup")
    store = _string(data, "store", limit=255)
    if store is None:
        raise MalformedPayload("store is required")
    order_id = _platform_id(data, "order_id")
    proof = _string(data, "proof", limit=200)
    customer_id = _platform_id(data, "customer_id")
    email = _string(data, "email_sha256", HEX64)
    if kind == PURCHASE and (order_id is None or proof is None):
        raise MalformedPayload("a purchase report needs order_id and proof")
    if kind == SIGNUP and customer_id is None and email is None:
        raise MalformedPayload("a signup report needs customer_id or email_sha256")
    raw_touches = data.get("touches", [])
    if not isinstance(raw_touches, list) or len(raw_touches) > MAX_TOUCHES:
        raise MalformedPayload(f"touches must be a list of at most {MAX_TOUCHES}")
    touches = []
    for touch in raw_touches:
        if not isinstance(touch, dict):
            raise MalformedPayload("each touch must be an object")
        ref = _string(touch, "ref", TRACKING_ID, limit=100)
        if ref is None:
            raise MalformedPayload("each touch needs a ref (a tracking id)")
        click_id = _string(touch, "click_id", limit=64)
        if click_id is not None and not CLICK_ID.fullmatch(click_id):
            click_id = None  # not one of ours: the touch still counts by its ref
        touches.append(ReportedTouch(ref, click_id, _time(touch.get("at"), now)))
    return Report(store, kind, order_id, proof, customer_id, email, tuple(touches))


def keep(session: Session, store_id: int, body: bytes, received_at: datetime) -> StorefrontReport:
    """Store a report the worker read back from the inbox (its canonical body)."""
    data = json.loads(body)
    report = StorefrontReport(
        store_id=store_id, kind=data["kind"], platform_order_id=data.get("order_id"),
        proof_sha256=data.get("proof_sha256"), customer_id=data.get("customer_id"),
        email_sha256=data.get("email_sha256"), touches=data.get("touches", []), received_at=received_at,
        status="waiting",
    )
    session.add(report)
    session.flush()
    return report


def join_order_reports(session: Session, order: Order) -> list[StorefrontReport]:
    """The order's reports whose proof matches it; reports whose proof does not are marked rejected."""
    joined = []
    if order.proof_sha256 is None:
        return joined  # the delivery carried no secret (e.g. reconciliation): nothing can be proven yet
    for report in session.scalars(select(StorefrontReport).where(
            StorefrontReport.store_id == order.store_id, StorefrontReport.kind == PURCHASE,
            StorefrontReport.platform_order_id == order.platform_order_id,
            StorefrontReport.status.in_(("waiting", "joined"))).order_by(StorefrontReport.id)):
        if proofs_match(order.proof_sha256, report.proof_sha256):
            report.status, report.note = "joined", None
            joined.append(report)
        else:
            report.status, report.note = "rejected", "its proof does not match the order's checkout token or key"
    return joined


def signup_reports(session: Session, store_id: int, email_sha256: str | None, since: datetime,
                   until: datetime) -> list[StorefrontReport]:
    """Sign-up reports received between `since` and `until` that carry this customer's email hash.

    Only the email's hash counts: a customer id is no proof (anyone can name one, and they come in
    sequence), the hash of an address only the shopper's browser (and the store) has seen is.
    """
    if not email_sha256:
        return []
    return list(session.scalars(select(StorefrontReport).where(
        StorefrontReport.store_id == store_id, StorefrontReport.kind == SIGNUP,
        StorefrontReport.email_sha256 == email_sha256, StorefrontReport.received_at >= since,
        StorefrontReport.received_at <= until).order_by(StorefrontReport.id)))


def touches_of(session: Session, store_id: int, reports: list[StorefrontReport]) -> list[ReportedTouch]:
    """The reports' touches, oldest first, each once; a click id we recorded gives the touch our own time."""
    seen, raw = set(), []
    for report in reports:
        for touch in report.touches or []:
            key = (match_key(touch["ref"]), touch.get("click_id"), touch["at"])
            if key not in seen:
                seen.add(key)
                raw.append(touch)
    click_ids = {t["click_id"] for t in raw if t.get("click_id")}
    clicks = {}
    if click_ids:
        clicks = {c.id: c for c in session.scalars(select(Click).where(Click.store_id == store_id,
                                                                        Click.id.in_(click_ids)))}
    touches = []
    for touch in raw:
        at = datetime.fromisoformat(touch["at"])
        click = clicks.get(touch.get("click_id"))
        if click is not None and click.tracking_key == match_key(touch["ref"]):
            touches.append(ReportedTouch(touch["ref"], click.id, click.clicked_at, click_verified=True))
        else:
            touches.append(ReportedTouch(touch["ref"], None, at))
    return sorted(touches, key=lambda t: t.at)
