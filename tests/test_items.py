"""An order's lines in conversions (pure): shared out so they add up to the amount exactly, and what an edit changed."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connector.core import items as lines
from connector.core import payload
from connector.core.platform import LineItem


def line(number: int, amount: str, quantity: int = 1) -> LineItem:
    return LineItem(str(number), f"p{number}", f"v{number}", f"SKU-{number}", f"Thing {number}", Decimal(quantity),
                    Decimal(amount))


def cents(places: int):
    """Amounts as a shop gives them: 0 (JPY), 2 (EUR) or 3 (KWD) decimals."""
    return st.integers(0, 10**7).map(lambda units: Decimal(units).scaleb(-places))


@st.composite
def lines_and_amount(draw):
    places = draw(st.sampled_from([0, 2, 3]))
    amounts = draw(st.lists(cents(places), min_size=1, max_size=12))
    items = [line(i, str(a), draw(st.integers(1, 50))) for i, a in enumerate(amounts)]
    target = draw(cents(places).filter(lambda t: t <= sum(amounts) or not any(amounts)))
    return items, target, places


@given(lines_and_amount())
def test_shared_lines_add_up_to_the_amount_exactly_and_each_stays_within_one_unit(case):
    items, target, places = case
    shared = lines.share_out(target, items)
    assert lines.total(shared) == target
    unit = Decimal(1).scaleb(-places)
    weights = [i.amount for i in items] if lines.total(items) else [Decimal(1)] * len(items)
    for item, weight in zip(shared, weights):
        exact = target * weight / sum(weights)
        assert exact - unit < item.amount <= exact + unit
        assert item.amount >= 0
    # The lines keep what they sell; only the amount is shared.
    assert [(i.line_id, i.sku, i.quantity) for i in shared] == [(i.line_id, i.sku, i.quantity) for i in items]


@given(st.lists(cents(2), min_size=1, max_size=8), st.integers(-10**6, 10**6).map(lambda c: Decimal(c).scaleb(-2)))
def test_a_signed_amount_over_signed_lines_still_adds_up(amounts, target):
    items = [line(i, str(a if i % 2 else -a)) for i, a in enumerate(amounts)]
    if lines.total(items) == 0 and any(amounts):
        items = items[:1]
    shared = lines.share_out(target, items)
    assert lines.total(shared) == target


def test_a_line_amount_already_right_is_left_alone_and_no_lines_stay_none():
    items = [line(1, "10.00"), line(2, "5.50")]
    assert lines.share_out(Decimal("15.50"), items) == tuple(items)
    assert lines.share_out(Decimal("3.00"), []) == ()
    # 10 shared over three equal lines: the first listed take the spare cent.
    thirds = lines.share_out(Decimal("10.00"), [line(1, "1.00"), line(2, "1.00"), line(3, "1.00")])
    assert [i.amount for i in thirds] == [Decimal("3.34"), Decimal("3.33"), Decimal("3.33")]


@given(st.lists(st.tuples(st.integers(0, 5), cents(2), st.integers(0, 9)), max_size=8),
       st.lists(st.tuples(st.integers(0, 5), cents(2), st.integers(0, 9)), max_size=8))
def test_what_an_edit_changed_takes_the_held_lines_to_the_new_ones(before, after):
    def order(spec):
        return list({n: line(n, str(a), q) for n, a, q in spec}.values())
    held = lines.held([order(before)])
    changed = lines.changes(held, order(after))
    assert lines.total(changed) == lines.total(order(after)) - lines.total(order(before))
    now = lines.held([held.values(), changed])
    expected = lines.held([order(after)])
    for key, item in expected.items():
        assert (now[key].amount, now[key].quantity) == (item.amount, item.quantity)
    assert all(now[key].amount == 0 and now[key].quantity == 0 for key in now if key not in expected)


def test_lines_without_an_id_are_told_apart_by_what_they_sell():
    a = LineItem(None, "p1", None, "S1", "Scarf", Decimal(1), Decimal("10"))
    b = LineItem(None, "p2", None, "S2", "Socks", Decimal(2), Decimal("8"))
    assert lines.line_key(a) != lines.line_key(b)
    assert lines.changes(lines.held([[a, b]]), [a]) == (LineItem(None, "p2", None, "S2", "Socks", Decimal(-2),
                                                                  Decimal(-8)),)


def test_the_payload_line_carries_the_contract_fields_and_quantities_as_numbers():
    whole = payload.item_document(line(7, "12.5", 3))
    assert whole == {"line_id": "7", "product_id": "p7", "variant_id": "v7", "sku": "SKU-7", "title": "Thing 7",
                     "quantity": 3, "amount": "12.50"}
    by_weight = payload.item_document(LineItem("8", "p8", None, None, "Cheese", Decimal("0.250"), Decimal("4.1")))
    assert by_weight["quantity"] == "0.25" and by_weight["amount"] == "4.10"


def test_tax_held_in_refund_lines_is_taken_out_line_by_line():
    refunded = [line(1, "24.00"), line(2, "12.00")]
    assert [i.amount for i in lines.without_tax(refunded, {"1": Decimal("4.00")})] == [Decimal("20.00"),
                                                                                         Decimal("12.00")]
