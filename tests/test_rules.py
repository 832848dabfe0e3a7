"""Rules (pure): whether an order sighting may credit a purchase now, email hashing, self-referral.

Orders come from the realistic Shopify template through the real normaliser, so the `paid` flag
behind each financial status is the one the worker will see.
"""

from __future__ import annotations

import dataclasses

import pytest

from standins.shopify import samples
from adapters.shopify.normalise import normalise
from connector.core.attribution import InfluencerRef
from connector.core.platform import Customer, OrderEvent
from connector.core.rules import StorePolicy, email_sha256, is_self_referral, purchase_decision

ALICE_SHA256 = "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976"  # sha256("alice@example.com")
ON_PAID = StorePolicy()
ON_CREATION = StorePolicy(credit_on="creation")


def shopify_order(topic: str = "orders/create", **fields) -> OrderEvent:
    event = normalise(topic, samples.encode(samples.order(**fields)))
    assert isinstance(event, OrderEvent)
    return event


def decide(order: OrderEvent, policy: StorePolicy = ON_PAID, *, already_credited=False, cancelled=False):
    decision = purchase_decision(order, policy, already_credited=already_credited, cancelled=cancelled)
    return decision.credit, decision.outcome


# --- purchase_decision ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["paid", "partially_paid", "partially_refunded", "refunded"])
def test_paid_or_once_paid_orders_are_credited(status):
    """Refunded orders were paid first: the contract credits them (their refunds reverse it)."""
    assert decide(shopify_order(financial_status=status)) == (True, "credit")


@pytest.mark.parametrize("status", ["pending", "authorized", "voided"])
def test_unpaid_orders_wait_when_the_store_credits_on_payment(status):
    decision = purchase_decision(shopify_order(financial_status=status), ON_PAID, already_credited=False, cancelled=False)
    assert (decision.credit, decision.outcome) == (False, "wait")
    assert status in decision.reason


def test_the_orders_paid_topic_alone_credits_nothing():
    """Whether an order is paid is read from its body: the topic header is not signed."""
    assert decide(shopify_order("orders/paid", financial_status="pending")) == (False, "wait")


def test_store_crediting_on_creation_credits_an_unpaid_order():
    decision = purchase_decision(shopify_order(financial_status="pending"), ON_CREATION, already_credited=False,
                                 cancelled=False)
    assert (decision.credit, decision.outcome, decision.reason) == (True, "credit", "credited on creation")


def test_test_orders_are_not_credited_unless_the_store_forwards_them():
    order = shopify_order(test=True)
    assert decide(order) == (False, "test_order")
    assert decide(order, ON_CREATION) == (False, "test_order")
    assert decide(order, StorePolicy(forward_test_orders=True)) == (True, "credit")


def test_forwarded_test_order_still_waits_for_payment():
    order = shopify_order(test=True, financial_status="pending")
    assert decide(order, StorePolicy(forward_test_orders=True)) == (False, "wait")


def test_cancelled_orders_are_not_credited():
    cancelled_order = shopify_order(cancelled_at="2026-11-22T16:00:00+01:00")
    assert cancelled_order.cancelled
    assert decide(cancelled_order) == (False, "cancelled")
    assert decide(cancelled_order, ON_CREATION) == (False, "cancelled")
    # The worker may know of a cancellation the sighting in hand does not show.
    assert decide(shopify_order(), cancelled=True) == (False, "cancelled")


def test_already_credited_order_is_not_credited_again_whatever_else_holds():
    assert decide(shopify_order(), already_credited=True) == (False, "already_credited")
    assert decide(shopify_order(test=True, financial_status="pending"), already_credited=True, cancelled=True) == (
        False,
        "already_credited",
    )


# --- email_sha256 --------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["alice@example.com", "  Alice@Example.COM ", "ALICE@EXAMPLE.COM\n"])
def test_email_sha256_hashes_the_trimmed_lower_cased_address(email):
    assert email_sha256(email) == ALICE_SHA256


@pytest.mark.parametrize("email", [None, "", "   "])
def test_email_sha256_of_no_address_is_none(email):
    assert email_sha256(email) is None


def test_email_sha256_distinguishes_addresses():
    assert email_sha256("alice@example.org") != ALICE_SHA256


# --- is_self_referral ----------------------------------------------------------------------------

ALICE = InfluencerRef("alice", email_sha256=ALICE_SHA256, customer_id="7064055069302")


@pytest.mark.parametrize(
    "customer",
    [
        Customer(None, " Alice@Example.com "),
        Customer("7064055069302", None),
        Customer("7064055069302", "someone.else@example.com"),
    ],
)
def test_customer_with_influencers_email_or_id_is_a_self_referral(customer):
    assert is_self_referral(ALICE, customer)


@pytest.mark.parametrize(
    "influencer, customer",
    [
        (ALICE, Customer("1", "claire.martin@example.com")),
        (ALICE, Customer(None, None)),
        # Nothing known on either side must never look like a match.
        (InfluencerRef("bob"), Customer(None, None)),
        (InfluencerRef("bob"), Customer("", "")),
        (InfluencerRef("bob", customer_id="42"), Customer("420", None)),
    ],
)
def test_other_customers_are_not_self_referrals(influencer, customer):
    assert not is_self_referral(influencer, customer)


def test_self_referral_from_a_normalised_shopify_order():
    order = shopify_order(email="ALICE@example.com ")
    assert is_self_referral(ALICE, order.customer)
    assert is_self_referral(dataclasses.replace(ALICE, email_sha256=None), shopify_order(customer_id=7064055069302).customer)
