"""GET /admin/api/onboarding: what is set up in the store and what is left, read from the real state.

The store's side comes from what the worker's last setup found there (Store.setup_report: webhooks read back
from the platform, the pixel, protected customer data), the backend's from the last delivery attempt and its
answer, the codes' from each influencer's code state; the webhooks step adds what the worker's daily check of the
subscriptions found and mended. POST .../check asks the worker to look again.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import jsonify
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from connector.db import transaction
from connector.models import Conversion, DeliveryAttempt, Influencer, Store
from connector.web import services
from connector.web.app import backfill_panel
from connector.web.app.answers import format_time
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, bp

WORKER = "The connector does this in the background, usually within seconds."
#: how many of the store's newest delivered or failed conversions the last delivery is looked for among
RECENT = 20


def _step(key: str, title: str, state: str, detail: str, action: str | None = None, action_url: str | None = None,
          checked_at=None) -> dict:
    return {"key": key, "title": title, "state": state, "detail": detail, "action": action, "action_url": action_url,
            "checked_at": format_time(checked_at)}


def _store_steps(store: Store) -> list[dict]:
    if store.setup_error and store.setup_report is None:
        return [_step("webhooks", "Connect the store", "failed", f"The last try did not work: {store.setup_error}",
                      "Nothing to do: the connector tries again every few minutes.", checked_at=store.setup_at)]
    if store.setup_report is None:
        return [_step("webhooks", "Connect the store", "working",
                      f"Registering the order webhooks and the web pixel in the store. {WORKER}")]
    steps = [_step(s["key"], s["title"], s["state"], s["detail"], s.get("action"), s.get("action_url"),
                   store.setup_at) for s in store.setup_report]
    now = datetime.now(timezone.utc)
    for step in steps:
        if step["key"] != "webhooks":
            continue
        if store.last_event_at is not None:
            step["detail"] += f" The last webhook from this store arrived {ago(store.last_event_at, now)}."
        step["detail"] += " " + webhook_summary(store, now)
        step["checked_at"] = format_time(last_check(store))
        if store.webhooks_check_error and step["state"] == "done":
            step["state"] = "failed"
            step["action"] = "Nothing to do: the connector tries again, and meanwhile reads the store's orders itself."
    return steps


def last_check(store: Store) -> datetime | None:
    """When the subscriptions were last read from the store: by the daily check, or by setup (it reads them back)."""
    times = [t for t in (store.webhooks_checked_at, store.setup_at if store.setup_report is not None else None) if t]
    return max(times) if times else None


def webhook_summary(store: Store, now: datetime) -> str:
    """The daily check in a line ("Checked today; 2 subscriptions repaired since install (last: 3 Dec).")."""
    checked = last_check(store)
    repaired = store.webhooks_repaired or 0
    line = f"Checked {_day(checked, now)}" if checked else "Not checked yet"
    if repaired and store.webhooks_repaired_at is not None:
        line += (f"; {repaired} subscription{'s' if repaired != 1 else ''} repaired since install "
                 f"(last: {_short_date(store.webhooks_repaired_at, now)}).")
    else:
        line += "; none has needed repair since install."
    if store.webhooks_check_error:
        line += f" Not mended yet: {store.webhooks_check_error}."
    return line


def _day(moment: datetime, now: datetime) -> str:
    days = (now.date() - moment.date()).days
    return "today" if days <= 0 else "yesterday" if days == 1 else f"on {_short_date(moment, now)}"


def _short_date(moment: datetime, now: datetime) -> str:
    return f"{moment.day} {moment:%b}" + (f" {moment.year}" if moment.year != now.year else "")


def _webhooks(store: Store) -> dict:
    """The daily check's side of the webhooks, for the page and for anyone reading the JSON."""
    return {"checked_at": format_time(last_check(store)), "repaired": store.webhooks_repaired or 0,
            "last_repaired_at": format_time(store.webhooks_repaired_at), "not_mended": store.webhooks_check_error,
            "summary": webhook_summary(store, datetime.now(timezone.utc)) if store.setup_at else None}


def ago(moment: datetime, now: datetime) -> str:
    """How long ago, as a merchant says it: just now, 5 minutes ago, 3 hours ago, on 30 November 2026."""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds >= 7 * 86400:
        return f"on {moment.day} {moment:%B %Y}"
    size, unit = next((size, unit) for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")) if seconds >= size)
    count = int(seconds // size)
    return f"{count} {unit}{'s' if count != 1 else ''} ago"


def _backend_step(session: Session, store: Store) -> dict:
    title = "Tracking backend receiving"
    # The newest attempt among the store's newest conversions that were tried: bounded whatever the outbox holds.
    tried = (select(Conversion.id).where(Conversion.store_id == store.id,
                                         or_(Conversion.status != "pending", Conversion.attempts > 0))
             .order_by(Conversion.created_at.desc()).limit(RECENT))
    last = session.scalar(select(DeliveryAttempt).where(DeliveryAttempt.conversion_id.in_(tried.scalar_subquery()))
                          .order_by(DeliveryAttempt.id.desc()).limit(1))
    if last is None:
        return _step("backend", title, "working", "Nothing has been sent yet: the first conversion goes to the "
                     "tracking backend as soon as an order is credited.")
    answer = f"answer {last.status_code}" if last.status_code else (last.error or "no answer")
    if last.status_code is not None and 200 <= last.status_code < 300:
        return _step("backend", title, "done", f"The tracking backend took the last conversion ({answer}).",
                     checked_at=last.attempted_at)
    return _step("backend", title, "failed", f"The last conversion was not taken ({answer}). The connector keeps "
                 "trying, and nothing is lost meanwhile.", "If it goes on failing, see Deliveries and tell the "
                 "app's operator.", checked_at=last.attempted_at)


def _codes_step(session: Session, store: Store) -> dict:
    title = "Promo codes in the store"
    counts = dict(session.execute(select(Influencer.code_status, func.count()).where(
        Influencer.store_id == store.id, Influencer.active.is_(True)).group_by(Influencer.code_status)).all())
    if counts.get("failed"):
        return _step("codes", title, "failed", f"{counts['failed']} influencer codes could not be created in the "
                     "store.", "See Influencers: each says why. Fix the code in the campaign platform.")
    if counts.get("pending") or counts.get("removing"):
        return _step("codes", title, "working", f"{counts.get('pending', 0) + counts.get('removing', 0)} codes are "
                     f"being created or removed in the store. {WORKER}")
    live = counts.get("active", 0) + counts.get("existing", 0)
    detail = f"All {live} influencer codes are in the store." if live else "No promo codes to create yet: " \
        "they are made when the campaign platform gives an influencer one."
    return _step("codes", title, "done", detail)


def _answer(session: Session, store: Store) -> dict:
    steps = _store_steps(store) + [_backend_step(session, store), _codes_step(session, store)]
    steps += backfill_panel.onboarding_steps(session, store)  # the offer to credit past orders (issue 17)
    return {"store": {"domain": store.domain, "platform": store.platform, "status": store.status,
                      "status_reason": store.status_reason},
            "setup_pending": store.setup_pending, "complete": all(s["state"] == "done" for s in steps),
            "steps": steps, "webhooks": _webhooks(store)}


@bp.get(f"{PREFIX}/onboarding")
def onboarding():
    with services().sessions() as session:
        store = merchant_store(session)
        return jsonify(_answer(session, store))


@bp.post(f"{PREFIX}/onboarding/check")
def check_again():
    """Have the worker run setup again: it reads the store's webhooks and pixel afresh (and mends them)."""
    with transaction(services().sessions) as session:
        store = merchant_store(session)
        # Only the flag: a worker holding the store now (codes, a reconciliation) finishes first, then takes it up.
        store.setup_pending = True
        session.flush()
        return jsonify(_answer(session, store)), 202
