"""GET /admin/api/deliveries (each conversion's sending to the backend, failed first) and POST .../replay."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.core.backend_events import TEXTS as EVENT_TEXTS, is_conversion
from connector.core.payload import format_amount
from connector.db import transaction
from connector.delivery import outbox
from connector.models import Conversion, DeliveryAttempt, Order, Store, utcnow
from connector.web import services
from connector.web.app.answers import PER_PAGE, choice, format_time, page_fields, page_number
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, AppError, bp
from connector.web.app.orders import TYPES

STATUSES = ("all", "failed", "pending", "delivered")
TONES = {"failed": "critical", "pending": "warning", "delivered": "success"}
RECENT_ATTEMPTS = 5
#: failed first (they need the merchant), then those still being tried, then the delivered
ORDER = ("failed", "pending", "delivered")


def _attempts(session: Session, ids: list[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {i: [] for i in ids}
    if not ids:
        return found
    newest = (select(DeliveryAttempt, func.row_number().over(partition_by=DeliveryAttempt.conversion_id,
                                                             order_by=DeliveryAttempt.id.desc()).label("n"))
              .where(DeliveryAttempt.conversion_id.in_(ids)).subquery())
    for attempt in session.execute(select(newest).where(newest.c.n <= RECENT_ATTEMPTS)
                                   .order_by(newest.c.conversion_id, newest.c.id.desc())).mappings():
        found[attempt["conversion_id"]].append({
            "at": format_time(attempt["attempted_at"]),
            "status_code": attempt["status_code"], "error": attempt["error"], "excerpt": attempt["excerpt"],
            "duration_ms": attempt["duration_ms"]})
    return found


def _row(conversion: Conversion, order: Order | None, attempts: list[dict]) -> dict:
    # The backend's other events (a store connected, a code made, ...) are sent alike, and have no amount.
    event = not is_conversion(conversion.type)
    return {
        "id": conversion.id, "type": conversion.type,
        "type_text": TYPES.get(conversion.type) or EVENT_TEXTS.get(conversion.type, conversion.type),
        "order_name": order.order_name if order else None, "order_id": order.platform_order_id if order else None,
        "tracking_id": conversion.tracking_id, "amount": None if event else format_amount(conversion.amount),
        "currency": None if event else conversion.currency, "status": conversion.status,
        "tone": TONES.get(conversion.status, "neutral"),
        "attempts": conversion.attempts, "last_error": conversion.last_error,
        "next_attempt_at": format_time(conversion.next_attempt_at) if conversion.status == "pending" else None,
        "delivered_at": format_time(conversion.delivered_at), "created_at": format_time(conversion.created_at),
        "recent_attempts": attempts,
    }


def _rows(session: Session, query) -> list[dict]:
    rows = session.execute(query).all()
    attempts = _attempts(session, [c.id for c, _o in rows])
    return [_row(c, o, attempts[c.id]) for c, o in rows]


def _page(session: Session, store_id: int, statuses: tuple[str, ...], counts: dict[str, int], offset: int) -> list[dict]:
    """A page of the store's conversions in `statuses` order, newest first within each: one status at a time,
    each an ordered walk of ix_conversions_store_status (a CASE in ORDER BY would sort them all)."""
    rows: list[dict] = []
    for status in statuses:
        count = counts.get(status, 0)
        if offset >= count:
            offset -= count
            continue
        query = (select(Conversion, Order).outerjoin(Order, Order.id == Conversion.order_id)
                 .where(Conversion.store_id == store_id, Conversion.status == status)
                 .order_by(Conversion.created_at.desc(), Conversion.id.desc())
                 .limit(PER_PAGE - len(rows)).offset(offset))
        rows += _rows(session, query)
        offset = 0
        if len(rows) == PER_PAGE:
            break
    return rows


@bp.get(f"{PREFIX}/deliveries")
def list_deliveries():
    with services().sessions() as session:
        store = merchant_store(session)  # before reading the request: without a token, 401 and nothing else
        page, status = page_number(), choice("status", STATUSES)
        counts = dict(session.execute(select(Conversion.status, func.count()).where(Conversion.store_id == store.id)
                                      .group_by(Conversion.status)).all())
        statuses = ORDER if status == "all" else (status,)
        rows = _page(session, store.id, statuses, counts, (page - 1) * PER_PAGE)
        return jsonify(deliveries=rows, status=status, counts={s: counts.get(s, 0) for s in ORDER},
                       **page_fields(page, sum(counts.get(s, 0) for s in statuses)))


@bp.post(f"{PREFIX}/deliveries/<conversion_id>/replay")
def replay(conversion_id: str):
    with transaction(services().sessions) as session:
        store: Store = merchant_store(session)
        conversion = session.scalar(select(Conversion).where(Conversion.store_id == store.id,
                                                             Conversion.id == conversion_id[:40]))
        if conversion is None:
            raise AppError(404, "not_found", "no such delivery in this store")
        now = utcnow()
        if conversion.status == "pending" and conversion.lease_until is not None and conversion.lease_until > now:
            # A worker is sending it this moment: a second send beside it would only race it.
            raise AppError(409, "being_sent", "this conversion is being sent right now; look again in a minute")
        outbox.replay(session, [conversion.id], now)
        session.flush()
        query = (select(Conversion, Order).outerjoin(Order, Order.id == Conversion.order_id)
                 .where(Conversion.id == conversion.id))
        return jsonify(delivery=_rows(session, query)[0], message="Queued to be sent again"), 202
