"""Rules (pure): whether an order may be credited now, and the identity checks behind self-referral."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from connector.core.platform import Customer, OrderEvent

CREDIT_ON_PAID, CREDIT_ON_CREATION = "paid", "creation"
CREDIT_ON = (CREDIT_ON_PAID, CREDIT_ON_CREATION)


class _Identity(Protocol):
    email_sha256: str | None
    customer_id: str | None


@dataclass(frozen=True)
class StorePolicy:
    credit_on: str = CREDIT_ON_PAID
    forward_test_orders: bool = False


@dataclass(frozen=True)
class Decision:
    credit: bool
    #: a short word for records and logs: credit, wait, test_order, cancelled, already_credited
    outcome: str
    reason: str


def email_sha256(email: str | None) -> str | None:
    """SHA-256 hex of the trimmed, lower-cased address: the only form an email leaves the connector in."""
    if not email or not email.strip():
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def is_self_referral(influencer: _Identity, customer: Customer) -> bool:
    """The customer is the influencer: same email (by hash) or the same platform customer id."""
    customer_hash = email_sha256(customer.email)
    if influencer.email_sha256 and customer_hash and influencer.email_sha256 == customer_hash:
        return True
    return bool(influencer.customer_id and customer.id and str(influencer.customer_id) == str(customer.id))


def purchase_decision(order: OrderEvent, policy: StorePolicy, *, already_credited: bool, cancelled: bool) -> Decision:
    """May this sighting of the order credit a purchase now?"""
    if already_credited:
        return Decision(False, "already_credited", "the order was already credited")
    if cancelled or order.cancelled:
        return Decision(False, "cancelled", "the order was cancelled before it was credited")
    if order.test and not policy.forward_test_orders:
        return Decision(False, "test_order", "test orders are not credited in this store")
    if policy.credit_on == CREDIT_ON_PAID and not order.paid:
        return Decision(False, "wait", f"not paid yet (financial status {order.financial_status or 'unknown'})")
    return Decision(True, "credit", "paid" if order.paid else "credited on creation")
