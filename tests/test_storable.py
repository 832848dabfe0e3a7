"""Neutral events carry only values the database can hold (connector/core/storable.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import MalformedPayload
from connector.core.platform import Customer, CustomerCreated, Money, OrderEvent
from connector.core.storable import checked

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def _order(**fields) -> OrderEvent:
    values = dict(order_id="1", order_name="#1", topic="orders/paid", occurred_at=NOW, financial_status="paid",
                  paid=True, cancelled=False, cancelled_at=None, test=False, customer=Customer("9", "a@b.example"),
                  discount_codes=("ALICE15",), cart_attributes={"_ref": "bob"}, landing_url=None, landing_ref=None,
                  commission_base=Money(Decimal("1.00"), "EUR"))
    values.update(fields)
    return OrderEvent(**values)


def test_a_plain_event_passes_unchanged():
    event = _order()
    assert checked(event) is event
    assert checked(None) is None


@pytest.mark.parametrize("fields, named", [
    ({"order_name": "#\ud800"}, "order_name"),
    ({"customer": Customer("9", "x\udfff@b.example")}, "customer.email"),
    ({"discount_codes": ("OK", "BAD\x00")}, "discount_codes[1]"),
    ({"cart_attributes": {"_ref": "\ud83d"}}, "cart_attributes"),
    ({"cart_attributes": {"\ud800": "x"}}, "cart_attributes key"),
    ({"occurred_at": datetime(1, 1, 1, tzinfo=timezone.utc)}, "occurred_at"),
    ({"cancelled_at": datetime(9999, 1, 1, tzinfo=timezone.utc)}, "cancelled_at"),
])
def test_what_the_database_cannot_hold_is_refused_naming_the_field(fields, named):
    with pytest.raises(MalformedPayload, match=f"^{named.replace('[', '.').replace(']', '.')}"):
        checked(_order(**fields))


@given(text=st.text())
def test_any_text_passes_unless_it_holds_a_surrogate_or_nul(text):
    storable = "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
    try:
        checked(CustomerCreated(customer_id="1", email=text, occurred_at=NOW))
    except MalformedPayload:
        assert not storable
    else:
        assert storable
