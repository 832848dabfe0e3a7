"""GET /admin/api/orders (the orders the connector saw, newest first) and /admin/api/orders/<id> (why).

An order credited by hand (connector.web.app.manual_credit, or the backend's API) says who did it, when and why, and
what the signals had decided before; one not credited says whether it can be credited by hand, or why not.
"""

from __future__ import annotations

from decimal import Decimal

from flask import jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.core.crediting import JOURNEY_WAIT
from connector.core.payload import PURCHASE, format_amount, format_share
from connector.models import AttributionRecord, Conversion, Order, Store, StorefrontReport
from connector.web import services
from connector.web.app import explain, record_details
from connector.web.app.answers import PER_PAGE, choice, format_time, page_fields, page_number
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, AppError, bp

SHOW = ("all", "credited", "not_credited")
#: a browser report's state (StorefrontReport.status) in the merchant's words
REPORT_STATES = {"waiting": "Received, waiting for the order", "joined": "Matched to this order",
                 "rejected": "Refused: its proof is not this order's"}
#: how an order was credited, in the merchant's words (by hand too)
METHOD_LABELS = {**explain.METHOD_LABELS, "manual": "By hand"}
#: who credited an order by hand (the record's details.manual.by)
BY_HAND = {"backend": "Your tracking platform, through the connector's API", "merchant": "Someone in this app"}
TYPES = {"conversion.purchase": "Purchase", "conversion.refund": "Refund", "conversion.cancellation": "Cancellation",
         "conversion.lead": "Sign-up", "conversion.adjustment": "Edit adjustment"}


def _amount(order: Order) -> str | None:
    """The commission base the order is credited on now: its purchase and the edits that adjusted it since."""
    if order.commission_base is None:
        return None
    return format_amount(order.commission_base + (order.adjusted_base or Decimal(0)))


def _row(order: Order, record: AttributionRecord | None, delivery: str | None) -> dict:
    outcome = record.outcome if record else None
    text, tone = explain.outcome_label(outcome)
    return {
        "order_id": order.platform_order_id, "order_name": order.order_name, "seen_at": format_time(order.first_seen_at),
        "outcome": outcome, "outcome_text": text, "tone": tone,
        "method": record.method if record else None,
        "method_text": METHOD_LABELS.get(record.method) if record and record.method else None,
        "influencers": [c["tracking_id"] for c in (record.credits if record else [])],
        "amount": _amount(order), "currency": order.currency, "test": order.test, "delivery": delivery,
    }


@bp.get(f"{PREFIX}/orders")
def list_orders():
    with services().sessions() as session:
        store = merchant_store(session)  # before reading the request: without a token, 401 and nothing else
        page, show = page_number(), choice("show", SHOW)
        where = [Order.store_id == store.id]
        if show != "all":
            credited = Order.purchase_conversion_id.is_not(None)
            where.append(credited if show == "credited" else Order.purchase_conversion_id.is_(None))
        total = session.scalar(select(func.count()).select_from(Order).where(*where))
        newest = (Order.first_seen_at.desc(), Order.id.desc())
        # The page's orders alone first (an index walk however deep the page), then what they are shown with:
        # joined before the paging, a deep page made PostgreSQL join and sort every order of the store.
        ids = (select(Order.id).where(*where).order_by(*newest).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
               .scalar_subquery())
        rows = session.execute(
            select(Order, AttributionRecord, Conversion.status)
            .outerjoin(AttributionRecord, AttributionRecord.order_id == Order.id)
            .outerjoin(Conversion, Conversion.id == Order.purchase_conversion_id)
            .where(Order.id.in_(ids)).order_by(*newest)).all()
        return jsonify(orders=[_row(*row) for row in rows], show=show, **page_fields(page, total))


def _explanation(order: Order, record: AttributionRecord | None) -> list[str]:
    notes = []
    if order.test:
        notes.append("The store marked this order as a test order (a test payment).")
    if record and record.outcome == "credit" and order.cancelled:
        notes.append("The order was cancelled later: its credit was reversed, and the backend was told.")
    if record and any(s.get("status") == "ignored" and "self-referral" in str(s.get("reason")) for s in record.signals):
        notes.append("A signal pointed to the customer themself: self-referrals are never credited.")
    if record and record.outcome == "awaiting_report":
        notes.append("Orders with no promo code wait briefly, because the browser's report of the clicked link often "
                     "arrives just after the order.")
    if record and record.outcome == "awaiting_visits":
        notes.append("Orders with no promo code and no click wait a few minutes at most for Shopify's record of the "
                     "shopper's visits, which says which page they came in on, and when.")
    if record and (record.details or {}).get("adjustments"):
        notes.append("The order was edited after it was credited: each edit's difference was sent to your tracking "
                     "platform as an adjustment (see Edits).")
    return notes


def _conversion(conversion: Conversion) -> dict:
    return {"id": conversion.id, "type": conversion.type, "type_text": TYPES.get(conversion.type, conversion.type),
            "amount": format_amount(conversion.amount), "currency": conversion.currency, "status": conversion.status,
            "attempts": conversion.attempts, "created_at": format_time(conversion.created_at),
            "items": record_details.items_of(conversion.body)}


def _share_percent(share: str) -> str:
    return format_share((Decimal(share) * 100).quantize(Decimal("0.01")))


def _by_hand(order: Order, record: AttributionRecord | None, details: dict) -> dict:
    """Who credited the order by hand, when, why and what the signals had decided; or whether it can be, or why not."""
    done = details.get("manual")
    if order.purchase_conversion_id is not None and isinstance(done, dict):
        before = done.get("superseded") or {}
        user = done.get("user")
        by = BY_HAND.get(done.get("by"), str(done.get("by")))
        return {"done": True, "by": done.get("by"), "by_text": by + (f" (Shopify staff member {user})" if user else ""),
                "at": done.get("at"), "note": done.get("note"),
                "before_text": explain.headline(before.get("outcome"), before.get("credits") or [], [],
                                                before.get("method"), waits_until=None) if before else None}
    outcome = record.outcome if record else None
    why_not = None
    if order.purchase_conversion_id is not None:
        why_not = "It is credited already."
    elif order.cancelled or outcome == "cancelled":
        why_not = "A cancelled order is never credited."
    elif outcome == "test_order":
        why_not = "Test orders are not credited in this store (Settings)."
    elif outcome == "wait":
        why_not = "It is not paid yet, and this store credits orders once they are paid (Settings)."
    elif order.last_event_id is None:
        why_not = "The connector has not received the order itself yet, so it does not know its amount."
    return {"done": False, "possible": why_not is None, "why_not": why_not}


def _headline(outcome, credits: list[dict], signals: list[dict], method: str | None, waits_until, details: dict) -> str:
    if method == "manual" and outcome == "credit":
        return "Credited by hand to " + ", ".join(
            f"{c['tracking_id']} ({_share_percent(c['share'])}%)" for c in credits) + "."
    return explain.headline(outcome, credits, signals, method, waits_until=waits_until, details=details)


def _detail(session: Session, store: Store, order: Order) -> dict:
    record = session.get(AttributionRecord, order.id)
    outcome = record.outcome if record else None
    text, tone = explain.outcome_label(outcome)
    credits = record.credits if record else []
    signals = record.signals if record else []
    details = (record.details if record else None) or {}
    method = record.method if record else None
    reports = session.scalars(select(StorefrontReport).where(
        StorefrontReport.store_id == store.id, StorefrontReport.platform_order_id == order.platform_order_id)
        .order_by(StorefrontReport.id))
    conversions = [_conversion(c) for c in session.scalars(
        select(Conversion).where(Conversion.order_id == order.id).order_by(Conversion.created_at, Conversion.id))]
    waits_until = order.first_seen_at + JOURNEY_WAIT if outcome == "awaiting_visits" else order.awaiting_report_until
    purchase = next((c for c in conversions if c["type"] == PURCHASE), None)
    provisional = outcome in explain.PROVISIONAL
    return {
        "order_id": order.platform_order_id, "order_name": order.order_name, "seen_at": format_time(order.first_seen_at),
        "decided_at": format_time(record.decided_at) if record else None, "outcome": outcome, "outcome_text": text,
        "tone": tone, "method": method, "method_text": METHOD_LABELS.get(method) if method else None,
        "headline": _headline(outcome, credits, signals, method, waits_until, details),
        "explanation": _explanation(order, record),
        "amount": _amount(order), "currency": order.currency,
        "credits": [{"tracking_id": c["tracking_id"], "share": format_share(Decimal(c["share"])),
                     "percent": _share_percent(c["share"])} for c in credits],
        "provisional": provisional,
        "signals": [{**explain.signal_text(s, provisional=provisional), "superseded": bool(s.get("superseded"))}
                    for s in signals],
        **record_details.describe(details, signals, outcome, order.currency),
        "by_hand": _by_hand(order, record, details),
        "lines": purchase["items"] if purchase else [],
        "reports": [{"received_at": format_time(r.received_at), "touches": len(r.touches or []), "status": r.status,
                     "status_text": REPORT_STATES.get(r.status, r.status), "note": r.note} for r in reports],
        "conversions": conversions,
    }


@bp.get(f"{PREFIX}/orders/<order_id>")
def order_why(order_id: str):
    with services().sessions() as session:
        store = merchant_store(session)
        order = session.scalar(select(Order).where(Order.store_id == store.id,
                                                   Order.platform_order_id == order_id[:64]))
        if order is None:
            raise AppError(404, "not_found", "the connector has not seen this order")
        return jsonify(_detail(session, store, order))
