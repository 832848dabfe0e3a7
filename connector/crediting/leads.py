"""Sign-ups become `conversion.lead` when the browser tied them to an influencer: one lead per customer.

The store's customers/create (customer.created) says who signed up; the browser's sign-up report says
which touches led there. Either may come first: the sign-up waits a grace period for a report, and a
report that comes within it can still make the lead, never a second one.

Reports are posted by anyone, so a report counts only with what only the shopper's browser has:
- the SHA-256 of the email the platform's own customer webhook then carries (a customer id proves
  nothing: a fraudster can post reports for every id in sequence and wait for one to sign up);
- touches whose click the connector itself recorded; and one click earns at most one lead;
- arrival no later than the grace period (plus the clocks' allowance) after the sign-up: a report of
  an old account logging in is no sign-up.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from sqlalchemy.orm import Session

from connector.core import payload
from connector.campaigns import reports
from connector.core.attribution import CLICK, CLOCK_SKEW, Attribution, attribute_signals, match_key, touch_signals
from connector.crediting.facts import model_settings
from connector.crediting.writes import Applied, write_conversion
from connector.db import insert
from connector.campaigns.directory import directory_for
from connector.models import Click, Customer, Store
from connector.core.platform import Customer as CustomerIdentity
from connector.core.platform import CustomerCreated, Money
from connector.core.rules import email_sha256

#: a lead carries no amount; ISO 4217's code for "no currency" when the store's is not known
NO_CURRENCY = "XXX"


def _locked_customer(session: Session, store: Store, event: CustomerCreated, now: datetime) -> Customer:
    session.execute(
        insert(session, Customer.__table__)
        .values(store_id=store.id, platform_customer_id=event.customer_id, signed_up_at=event.occurred_at,
                email_sha256=email_sha256(event.email))
        .on_conflict_do_nothing(index_elements=["store_id", "platform_customer_id"])
    )
    return session.scalars(select(Customer).where(Customer.store_id == store.id,
                                                  Customer.platform_customer_id == event.customer_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def apply_signup(session: Session, store: Store, event: CustomerCreated, now: datetime, *,
                 grace: timedelta = timedelta(0)) -> Applied:
    """A customer signed up: make their lead now, or wait a grace period for the browser's report."""
    customer = _locked_customer(session, store, event, now)
    customer.email_sha256 = email_sha256(event.email) or customer.email_sha256
    # The wait is fixed when the sign-up is first handled; a redelivery or a second look never extends it.
    wait_until = now + grace if customer.decision is None else customer.awaiting_report_until
    return decide_lead(session, store, customer, now, wait_until=wait_until, grace=grace)


def decide_lead(session: Session, store: Store, customer: Customer, now: datetime, *,
                wait_until: datetime | None = None, grace: timedelta = timedelta(0)) -> Applied:
    """Credit the customer's lead from their sign-up reports, once."""
    if customer.lead_conversion_id is not None:
        return Applied((), "lead already credited")
    model = model_settings(store)
    since = max(customer.signed_up_at, datetime.min.replace(tzinfo=timezone.utc) + model.window) - model.window
    latest = customer.signed_up_at + grace + CLOCK_SKEW
    found = reports.signup_reports(session, store.id, customer.email_sha256, since, latest)
    if not found:
        if wait_until is not None and now < wait_until:
            customer.awaiting_report_until, customer.decision = wait_until, "waiting for the browser's report"
            return Applied((), "sign-up: waiting for the browser's report", retry_at=wait_until)
        customer.awaiting_report_until, customer.decision = None, "no report ties this sign-up to an influencer"
        return Applied((), "sign-up: no report, no lead")
    for report in found:
        report.status = "joined"
    # Only touches backed by a click the connector itself recorded count, each click for one lead at most.
    # The clicks are locked (in a fixed order) so two sign-ups handled at once cannot both spend one.
    verified = [t for t in reports.touches_of(session, store.id, found) if t.click_verified]
    unspent = _unspent_clicks(session, store, {t.click_id for t in verified})
    touches = [t for t in verified if t.click_id in unspent]
    if not touches:
        customer.awaiting_report_until = None
        customer.decision = ("every recorded click in the report earned a lead already" if verified
                             else "no touch with a click the connector recorded")
        return Applied((), f"sign-up: {customer.decision}")
    directory = directory_for(session, store.id, set(), {match_key(t.ref) for t in touches})
    attribution = attribute_signals(touch_signals(touches, directory), customer.signed_up_at,
                                    CustomerIdentity(customer.platform_customer_id, None), [CLICK], model)
    customer.awaiting_report_until = None
    if not attribution.credits:
        customer.decision = _why_not(attribution)
        return Applied((), f"sign-up: {customer.decision}")
    conversion = _lead(session, store, customer, attribution, now)
    customer.lead_conversion_id = conversion.id
    for signal in attribution.winning_signals:
        if signal.click_id in unspent:
            unspent[signal.click_id].lead_conversion_id = conversion.id
    customer.decision = f"lead credited to {attribution.winner.tracking_id}"
    return Applied((conversion,), f"sign-up: {customer.decision}")


def _unspent_clicks(session: Session, store: Store, click_ids: set[str | None]) -> dict[str, Click]:
    """The store's clicks among `click_ids` that have earned no lead yet, locked until the transaction ends."""
    ids = sorted(i for i in click_ids if i)
    if not ids:
        return {}
    # populate_existing: the clicks are in the session already (touches_of read them, unlocked); without it
    # the locked read would hand back those stale objects, and two sign-ups at once could spend one click.
    clicks = session.scalars(select(Click).where(Click.store_id == store.id, Click.id.in_(ids))
                             .order_by(Click.id).with_for_update().execution_options(populate_existing=True))
    return {c.id: c for c in clicks if c.lead_conversion_id is None}


def _why_not(attribution: Attribution) -> str:
    reasons = sorted({o.reason for o in attribution.outcomes})
    return "no touch credited: " + "; ".join(reasons) if reasons else "the reports carried no touches"


def _lead(session: Session, store: Store, customer: Customer, attribution: Attribution, now: datetime):
    winner = attribution.winner
    click_ids = [s.click_id for s in attribution.winning_signals if s.click_id]
    return write_conversion(
        session, store, None, f"lead:{customer.platform_customer_id}", now,
        type=payload.LEAD, order_id=None, order_name=None, occurred_at=customer.signed_up_at,
        amount=Money(Decimal("0"), store.currency or NO_CURRENCY), presentment=None,
        tracking_id=winner.tracking_id, campaign_id=winner.campaign_id, method=attribution.method,
        promo_code=None, click_id=click_ids[-1] if click_ids else None,
        credits=[(c.influencer.tracking_id, c.share) for c in attribution.credits],
        customer_email_sha256=customer.email_sha256, first_order=None, reverses=None, test=False,
    )
