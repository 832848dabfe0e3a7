"""Campaigns and influencers as the tracking backend registers them: validated, upserted idempotently.

A PUT that changes nothing changes nothing (not even `updated_at`). A new or changed promo code is
queued for the worker, which creates it in the store; the request never waits for the store.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connector.core.attribution import RENEWAL_POLICIES, match_key
from connector.campaigns.directory import parse_precedence
from connector.errors import ConnectorError
from connector.models import Campaign, Influencer, Store
from connector.core.platform import FIXED_AMOUNT, PERCENTAGE, DiscountTerms
from connector.core.rules import CREDIT_ON, email_sha256

#: what a tracking id may hold: it travels in URLs (/t/<id>, ?ref=<id>) and cookies unescaped
TRACKING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: codes both platforms accept as typed at checkout: Shopify refuses spaces and control characters,
#: WooCommerce lower-cases and strips HTML; letters, digits, - and _ survive both unchanged
PROMO_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,49}")
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
#: /api/v1/stores/<id>/influencers/batch is the batch endpoint: no influencer can be reached at that path
RESERVED_TRACKING_IDS = frozenset({"batch"})
MAX_DISCOUNT_VALUE = Decimal("1000000")


class InvalidField(ConnectorError):
    """A field of a request is not valid."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class Conflict(ConnectorError):
    """The request clashes with what the store already holds."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def check_tracking_id(value: str, field: str = "tracking_id") -> str:
    if not isinstance(value, str) or not TRACKING_ID.fullmatch(value):
        raise InvalidField(field, "a tracking id is 1 to 100 letters, digits, '.', '_' or '-', starting with a "
                                  "letter or digit")
    if value.lower() in RESERVED_TRACKING_IDS:
        raise InvalidField(field, f"{value!r} is reserved (the API's batch endpoint has that path)")
    return value


def check_code(value: str, field: str = "promo_code") -> str:
    if not isinstance(value, str) or not PROMO_CODE.fullmatch(value.strip()):
        raise InvalidField(field, "a promo code is 2 to 50 letters, digits, '-' or '_' (no spaces or other "
                                  "characters, which Shopify or WooCommerce refuse or change)")
    return value.strip()


def check_campaign_id(value: str, field: str = "campaign_id") -> str:
    if not isinstance(value, str) or not CAMPAIGN_ID.fullmatch(value):
        raise InvalidField(field, "a campaign id is 1 to 100 letters, digits, '.', ':', '_' or '-'")
    return value


def discount_terms(
    kind: str, value: str | Decimal, *, starts_at: datetime | None = None, ends_at: datetime | None = None,
    usage_limit: int | None = None, once_per_customer: bool = False, field: str = "discount",
) -> DiscountTerms:
    """Validated terms: a percentage in (0, 100] or a positive fixed amount; ends after it starts."""
    if kind not in (PERCENTAGE, FIXED_AMOUNT):
        raise InvalidField(f"{field}.type", f"type must be {PERCENTAGE} or {FIXED_AMOUNT}")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise InvalidField(f"{field}.value", "value must be a decimal number such as \"15\" or \"10.50\"") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidField(f"{field}.value", "value must be greater than zero")
    if kind == PERCENTAGE and amount > 100:
        raise InvalidField(f"{field}.value", "a percentage discount cannot be more than 100")
    if amount > MAX_DISCOUNT_VALUE or amount.as_tuple().exponent < -2:
        raise InvalidField(f"{field}.value", "value has at most two decimal places and is below 1000000")
    for name, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidField(f"{field}.{name}", f"{name} needs a time zone (e.g. 2026-12-01T00:00:00Z)")
    if starts_at and ends_at and ends_at <= starts_at:
        raise InvalidField(f"{field}.ends_at", "ends_at must be after starts_at")
    if usage_limit is not None and (isinstance(usage_limit, bool) or not isinstance(usage_limit, int)
                                    or usage_limit < 1):
        raise InvalidField(f"{field}.usage_limit", "usage_limit must be a whole number of at least 1")
    return DiscountTerms(kind, amount.normalize() if amount == amount.to_integral() else amount,
                         starts_at, ends_at, usage_limit, bool(once_per_customer))


def terms_of(influencer: Influencer) -> DiscountTerms | None:
    if influencer.discount_kind is None or influencer.discount_value is None:
        return None
    return DiscountTerms(influencer.discount_kind, influencer.discount_value, influencer.discount_starts_at,
                         influencer.discount_ends_at, influencer.usage_limit, influencer.once_per_customer)


def upsert_campaign(session: Session, store: Store, campaign_id: str, *, name: str | None = None,
                    starts_at: datetime | None = None, ends_at: datetime | None = None,
                    now: datetime) -> tuple[Campaign, bool]:
    """Create or update a campaign; returns it and whether anything changed."""
    check_campaign_id(campaign_id)
    for field, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        # A naive time cannot be stored (UTC columns) nor compared with an aware one.
        if moment is not None and moment.tzinfo is None:
            raise InvalidField(field, f"{field} needs a time zone (e.g. 2026-12-01T00:00:00Z)")
    if starts_at and ends_at and ends_at <= starts_at:
        raise InvalidField("ends_at", "ends_at must be after starts_at")
    campaign = session.scalar(select(Campaign).where(Campaign.store_id == store.id,
                                                     Campaign.campaign_id == campaign_id))
    if campaign is None:
        campaign = Campaign(store_id=store.id, campaign_id=campaign_id, created_at=now)
        session.add(campaign)
        changed = True
    else:
        changed = (campaign.name, campaign.starts_at, campaign.ends_at) != (name, starts_at, ends_at)
    if changed:
        campaign.name, campaign.starts_at, campaign.ends_at, campaign.updated_at = name, starts_at, ends_at, now
        session.flush()
    return campaign, changed


@dataclass(frozen=True)
class InfluencerSpec:
    """What the backend says about one influencer (PUT body)."""

    tracking_id: str
    campaign_id: str | None = None
    email: str | None = None
    promo_code: str | None = None
    #: None: the code (if any) already exists in the store and is only matched, never created
    discount: DiscountTerms | None = None
    customer_id: str | None = None


def find_influencer(session: Session, store: Store, tracking_id: str) -> Influencer | None:
    return session.scalar(select(Influencer).where(Influencer.store_id == store.id,
                                                   Influencer.tracking_key == match_key(tracking_id)))


def _code_clash(session: Session, store: Store, code: str, influencer_id: int | None) -> Influencer | None:
    """Another influencer whose code this is: live in the store, or asked for and not yet made."""
    key = match_key(code)
    asked = (func.lower(Influencer.requested_code) == key) & Influencer.removed_at.is_(None)
    query = select(Influencer).where(Influencer.store_id == store.id, or_(Influencer.promo_code_key == key, asked))
    if influencer_id is not None:
        query = query.where(Influencer.id != influencer_id)
    return session.scalar(query)


def set_attribution(store: Store, *, model: str | None = None, window_days: int | None = None,
                    half_life_days: int | None = None, precedence: str | None = None,
                    forward_test_orders: bool | None = None, credit_on: str | None = None,
                    lifetime_days: int | None = None, renewals: str | None = None) -> None:
    """Change the store's attribution settings (None keeps one): the one function the CLI, /api/v1 and the
    merchant app set them with. Precedence, credit_on, lifetime_days and renewals are validated here."""
    if lifetime_days is not None:
        if isinstance(lifetime_days, bool) or not isinstance(lifetime_days, int) or not 0 <= lifetime_days <= 3650:
            raise InvalidField("lifetime_days", f"lifetime_days must be a whole number of days from 0 (off) to "
                                                f"3650, got {lifetime_days!r}")
        store.lifetime_days = lifetime_days
    if renewals is not None:
        if renewals not in RENEWAL_POLICIES:
            raise InvalidField("renewals", f"renewals must be one of {', '.join(RENEWAL_POLICIES)}, got {renewals!r}")
        store.renewals = renewals
    if credit_on is not None:
        if credit_on not in CREDIT_ON:
            raise InvalidField("credit_on", f"credit_on must be one of {', '.join(CREDIT_ON)}, got {credit_on!r}")
        store.credit_on = credit_on
    if forward_test_orders is not None:
        store.forward_test_orders = forward_test_orders
    if precedence is not None:
        store.precedence = parse_precedence(precedence)
    if model is not None:
        store.attribution_model = model
    if half_life_days is not None:
        store.half_life_days = half_life_days
    if window_days is not None and window_days != store.attribution_window_days:
        store.attribution_window_days = window_days
        if store.platform == "shopify" and store.setup_at is not None:
            store.setup_pending = True  # the web pixel keeps touches for the window: update its settings


#: the code statuses the worker acts on (creating, replacing, removing codes)
CODE_WORK = ("pending", "removing")


def queue_code_work(store: Store, now: datetime) -> None:
    """Tell the worker the store has codes to create or remove."""
    if store.codes_due_at is None or store.codes_due_at > now:
        store.codes_due_at = now


def check_spec(spec: InfluencerSpec) -> str | None:
    """The spec's fields checked, without the database; returns its code as it is kept (or None)."""
    check_tracking_id(spec.tracking_id)
    if spec.campaign_id is not None:
        check_campaign_id(spec.campaign_id)
    code = check_code(spec.promo_code) if spec.promo_code is not None else None
    if spec.discount is not None and code is None:
        raise InvalidField("promo_code", "a discount needs a promo_code")
    return code


def new_influencer(store_id: int, tracking_id: str, now: datetime) -> dict:
    """The columns an influencer starts with, before its spec is applied."""
    return dict(store_id=store_id, tracking_id=tracking_id, tracking_key=match_key(tracking_id), created_at=now,
                code_status="none", code_attempts=0, once_per_customer=False, active=True)


def apply_spec(influencer, spec: InfluencerSpec, code: str | None, now: datetime, *,
               created: bool) -> tuple[str, bool]:
    """Make the influencer say what the spec says; returns created, updated or unchanged, and whether its code was
    set anew (the code columns changed). `influencer` is the model, or the batch's row in memory (batch.Draft):
    the same rules for one PUT and for each entry of a batch."""
    hashed = email_sha256(spec.email)
    previous = (influencer.campaign_id, influencer.email_sha256, influencer.customer_id, influencer.requested_code,
                terms_of(influencer), influencer.removed_at)
    wanted = (spec.campaign_id, hashed, spec.customer_id, code, spec.discount, None)
    if not created and previous == wanted and influencer.code_status != "failed":
        return "unchanged", False

    code_changed = (influencer.requested_code is None) != (code is None) or (
        code is not None and (match_key(influencer.requested_code) != match_key(code)
                              or terms_of(influencer) != spec.discount)) or influencer.removed_at is not None
    influencer.campaign_id, influencer.email_sha256, influencer.customer_id = spec.campaign_id, hashed, spec.customer_id
    influencer.active, influencer.removed_at, influencer.updated_at = True, None, now
    code_set = code_changed or influencer.code_status == "failed"
    if code_set:
        _set_code(influencer, code, spec.discount)
    return ("created" if created else "updated"), code_set


def upsert_influencer(session: Session, store: Store, spec: InfluencerSpec, now: datetime) -> tuple[Influencer, str]:
    """Create, update or leave as is; returns the row and what happened: created, updated or unchanged."""
    code = check_spec(spec)
    influencer = find_influencer(session, store, spec.tracking_id)
    if code is not None:
        clash = _code_clash(session, store, code, influencer.id if influencer else None)
        if clash is not None:
            raise Conflict("promo_code", f"code {code!r} already belongs to {clash.tracking_id} in this store")
    created = influencer is None
    if created:
        influencer = Influencer(**new_influencer(store.id, spec.tracking_id, now))
        session.add(influencer)
    outcome, code_set = apply_spec(influencer, spec, code, now, created=created)
    if outcome == "unchanged":
        return influencer, outcome
    if code_set and influencer.code_status in CODE_WORK:
        queue_code_work(store, now)
    session.flush()
    return influencer, outcome


def _set_code(influencer: Influencer, code: str | None, terms: DiscountTerms | None) -> None:
    had_remote = _made_by_us(influencer) and influencer.code_status in ("active", "pending")
    influencer.requested_code = code
    # A code matches orders only once it works in the store (codes.py sets the key then), or when it was
    # made outside the connector: a pending or refused code must not credit anyone (the merchant's own
    # MERCHANT10, refused as a collision, would otherwise credit this influencer).
    influencer.promo_code = code
    influencer.promo_code_key = match_key(code) if code and terms is None else None
    influencer.discount_kind = terms.kind if terms else None
    influencer.discount_value = terms.value if terms else None
    influencer.discount_starts_at = terms.starts_at if terms else None
    influencer.discount_ends_at = terms.ends_at if terms else None
    influencer.usage_limit = terms.usage_limit if terms else None
    influencer.once_per_customer = terms.once_per_customer if terms else False
    influencer.code_error, influencer.code_attempts = None, 0
    if terms is not None:
        # A code the connector made before is replaced: the worker removes the old one first (code_remote_id).
        influencer.code_status = "pending"
    elif had_remote:
        influencer.code_status = "removing"
    else:
        influencer.code_status = "existing" if code else "none"


def _made_by_us(influencer: Influencer) -> bool:
    return influencer.code_remote_id is not None or influencer.code_discount_id is not None


def remove_influencer(session: Session, store: Store, influencer: Influencer, now: datetime) -> bool:
    """Stop crediting the influencer and deactivate their code in the store; history stays. False if already removed.

    Removing again retries a code the store would not take down.
    """
    if influencer.removed_at is not None:
        if influencer.code_status == "failed" and _made_by_us(influencer):
            influencer.code_status, influencer.code_attempts, influencer.updated_at = "removing", 0, now
            queue_code_work(store, now)
            return True
        return False
    influencer.active, influencer.removed_at, influencer.updated_at = False, now, now
    # The code stops matching orders at once, and may be given to someone else.
    influencer.promo_code_key = None
    if _made_by_us(influencer) and influencer.code_status in ("active", "pending", "failed"):
        influencer.code_status, influencer.code_attempts = "removing", 0
        queue_code_work(store, now)
    elif influencer.code_status != "removing" and (influencer.promo_code or influencer.requested_code):
        # Never made in the store (still pending, failed) or not the connector's to delete (existing): it
        # is simply no longer matched. "existing" used to stay as it was, as if the code still counted.
        influencer.code_status = "removed"
    session.flush()
    return True
