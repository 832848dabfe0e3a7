"""Sign-ups become leads when a browser report ties them to an influencer: either may come first, one lead each.

The customer's sign-up is applied as the adapters hand it over (a neutral CustomerCreated); the browser's
sign-up report goes through the real endpoint and the real worker.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from connector.core import payload
from connector.db import transaction
from connector.crediting.leads import apply_signup
from connector.models import Click, Customer, Store, StorefrontReport
from connector.core.platform import CustomerCreated
from connector.core.rules import email_sha256

from .conftest import SHOP
from .helpers import bodies, drain

ORIGIN = f"https://{SHOP}"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def click(client, store, tracking_id: str, days_ago: float = 0) -> str:
    """A real click on the influencer's link; its click id (recorded `days_ago`, for the window tests)."""
    answer = client.get(f"/t/{tracking_id}?s={store.id}")
    assert answer.status_code == 302
    click_id = parse_qs(urlsplit(answer.headers["Location"]).query)["click_id"][0]
    if days_ago:
        with transaction(client.application.extensions["connector"].sessions) as session:
            session.get(Click, click_id).clicked_at = NOW - timedelta(days=days_ago)
    return click_id


def report_signup(client, store, *, customer_id=None, email=None, touches=(("bob", 2),), forged=False):
    """The browser's sign-up report; each touch is a real click unless `forged` (a touch made up by hand)."""
    entries = [{"ref": ref, "click_id": None if forged else click(client, store, ref, days),
                "at": _stamp(NOW - timedelta(days=days))} for ref, days in touches]
    report = {"v": 1, "store": SHOP, "kind": "signup", "customer_id": customer_id,
              "email_sha256": email_sha256(email) if email else None, "touches": entries}
    answer = client.post("/storefront/events", data=json.dumps(report), headers={"Origin": ORIGIN,
                                                                                "Content-Type": "text/plain"})
    assert answer.status_code == 202, answer.json
    return answer


def sign_up(sessions, store, customer_id: str, email: str | None = None, grace: float = 0):
    """The platform's sign-up, happening now (a report is looked at only near its sign-up's time)."""
    now = datetime.now(timezone.utc)
    with transaction(sessions) as session:
        row = session.get(Store, store.id)
        return apply_signup(session, row, CustomerCreated(customer_id, email, now), now,
                            grace=timedelta(seconds=grace))


def leads(sessions) -> list[dict]:
    return [b for b in bodies(sessions) if b["type"] == payload.LEAD]


def test_a_report_then_the_sign_up_makes_one_lead_credited_by_click(client, settings, sessions, store):
    report_signup(client, store, customer_id="5001", email="New@Shopper.example ")
    drain(settings, sessions)  # the report is kept, waiting for its sign-up
    assert leads(sessions) == []
    applied = sign_up(sessions, store, "5001", "new@shopper.example")
    [lead] = [json.loads(c.body) for c in applied.conversions]
    assert lead["type"] == "conversion.lead" and lead["data"]["tracking_id"] == "bob"
    assert lead["data"]["method"] == "click" and lead["data"]["amount"] == "0.00"
    assert lead["data"]["credits"] == [{"tracking_id": "bob", "share": "1"}]
    assert lead["data"]["customer"]["email_sha256"] == email_sha256("new@shopper.example")
    # The same sign-up delivered again makes nothing more.
    assert sign_up(sessions, store, "5001", "new@shopper.example").conversions == ()
    assert len(leads(sessions)) == 1


def test_a_sign_up_waits_for_its_report_and_a_later_report_still_makes_the_lead(client, settings, sessions, store):
    before = datetime.now(timezone.utc)
    waiting = sign_up(sessions, store, "5002", "late@shopper.example", grace=30)
    assert waiting.conversions == ()
    assert before + timedelta(seconds=30) <= waiting.retry_at <= datetime.now(timezone.utc) + timedelta(seconds=30)
    # The storefront script names the sign-up by the email's hash rather than the id.
    report_signup(client, store, email=" Late@Shopper.example ", touches=(("alice", 3), ("bob", 1)))
    drain(settings, sessions)
    [lead] = leads(sessions)
    assert lead["data"]["tracking_id"] == "bob"  # last click, the store's default model
    report_signup(client, store, email="late@shopper.example", touches=(("carol", 0),))
    drain(settings, sessions)
    assert len(leads(sessions)) == 1  # one lead per customer, whatever reports follow


def test_no_report_means_no_lead_and_a_touch_outside_the_window_does_not_count(client, settings, sessions, store):
    assert sign_up(sessions, store, "5003").conversions == ()
    report_signup(client, store, customer_id="5004", email="w@shopper.example",
                  touches=(("bob", 30.5),))  # the default window is 30 days (and older clicks are pruned)
    drain(settings, sessions)
    applied = sign_up(sessions, store, "5004", "w@shopper.example")
    assert applied.conversions == () and "out_of_window" not in applied.note
    with sessions() as session:
        customer = session.scalar(select(Customer).where(Customer.platform_customer_id == "5004"))
        assert customer.lead_conversion_id is None and "30-day" in customer.decision
    assert leads(sessions) == []


def test_a_customer_redact_erases_the_sign_up_and_the_reports_naming_them(client, settings, sessions, store):
    from connector.installs.lifecycle import apply_lifecycle
    from connector.core.platform import CustomerRedact

    report_signup(client, store, customer_id="5005", email="gone@shopper.example")
    drain(settings, sessions)
    sign_up(sessions, store, "5005", "gone@shopper.example")
    with transaction(sessions) as session:
        apply_lifecycle(session, session.get(Store, store.id), CustomerRedact("5005", "gone@shopper.example"),
                        now=NOW, current_event_id=None, secret_key=settings.secret_key)
    with sessions() as session:
        assert session.scalar(select(Customer).where(Customer.platform_customer_id == "5005")) is None
        reports = session.scalars(select(StorefrontReport)).all()
        assert reports and all(r.customer_id is None and r.email_sha256 is None for r in reports)


def test_a_sign_up_report_with_made_up_touches_makes_no_lead(client, settings, sessions, store):
    """Anyone can post a sign-up report naming a customer id: only clicks the connector recorded count."""
    report_signup(client, store, customer_id="5006", email="m@shopper.example", touches=(("bob", 1),), forged=True)
    drain(settings, sessions)
    applied = sign_up(sessions, store, "5006", "m@shopper.example")
    assert applied.conversions == () and "recorded" in applied.note
    assert leads(sessions) == []


def test_the_wait_for_a_report_is_fixed_at_the_first_sighting(sessions, store):
    with transaction(sessions) as session:
        first = apply_signup(session, session.get(Store, store.id), CustomerCreated("5007", None, NOW), NOW,
                             grace=timedelta(seconds=30))
    assert first.retry_at == NOW + timedelta(seconds=30)
    with transaction(sessions) as session:  # handled again ten seconds later (a redelivery): same deadline
        again = apply_signup(session, session.get(Store, store.id), CustomerCreated("5007", None, NOW),
                             NOW + timedelta(seconds=10), grace=timedelta(seconds=30))
    assert again.retry_at == NOW + timedelta(seconds=30)
    with transaction(sessions) as session:  # at the deadline, no report: decided, no more waiting
        done = apply_signup(session, session.get(Store, store.id), CustomerCreated("5007", None, NOW),
                            NOW + timedelta(seconds=31), grace=timedelta(seconds=30))
    assert done.retry_at is None and done.conversions == ()


@pytest.mark.only_database("postgresql")
def test_two_sign_ups_reporting_one_click_at_the_same_moment_make_one_lead(client, settings, sessions, store):
    """The second sign-up reads the click before the first one's transaction spends it, then waits for its
    lock: what it finds after the wait must be the spent click, not the copy it read before."""
    click_id = click(client, store, "bob")
    for email in ("one@shopper.example", "two@shopper.example"):
        entries = [{"ref": "bob", "click_id": click_id, "at": _stamp(NOW)}]
        answer = client.post("/storefront/events", headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
                             data=json.dumps({"v": 1, "store": SHOP, "kind": "signup", "customer_id": None,
                                              "email_sha256": email_sha256(email), "touches": entries}))
        assert answer.status_code == 202
    drain(settings, sessions)
    holder = sessions()
    holder.begin()
    holder.execute(select(Click).where(Click.id == click_id).with_for_update())  # the first sign-up, mid-way
    outcome = {}

    def second_sign_up():
        outcome["applied"] = sign_up(sessions, store, "6002", "two@shopper.example")

    second = threading.Thread(target=second_sign_up)
    second.start()
    time.sleep(0.5)  # it has read the click and now waits for the lock
    assert second.is_alive()
    holder.get(Click, click_id).lead_conversion_id = "cv_first"  # what the first sign-up's lead did
    holder.commit()
    holder.close()
    second.join(timeout=10)
    assert outcome["applied"].conversions == () and "earned a lead already" in outcome["applied"].note
