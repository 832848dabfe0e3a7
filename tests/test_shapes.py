"""The JSON shapes every normaliser reads (connector/core/shapes.py), as properties over any JSON value.

The two readings of an empty list are the two the normalisers have always had: WooCommerce's (and the
Shopify compliance topics') where only null is empty, and the Shopify order webhooks' where any empty
value is. Each is pinned down here against a plain statement of the rule.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.core.shapes import Empty, list_field, objects_field, text_or_none
from connector.errors import MalformedPayload

NAME = "line_items"

scalars = st.none() | st.booleans() | st.integers() | st.decimals(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)
not_lists = json_values.filter(lambda value: not isinstance(value, list))
#: every empty JSON value a body can hold, besides an empty list
empty_not_lists = st.sampled_from([None, "", 0, Decimal(0), Decimal("0.00"), False, {}])
objects = st.lists(st.dictionaries(st.text(max_size=4), json_values, max_size=3), max_size=4)
readings = st.sampled_from(list(Empty))


def _not_a_list(obj: dict, empty: Empty) -> None:
    with pytest.raises(MalformedPayload, match=f"^{NAME} is not a list$"):
        list_field(obj, NAME, empty=empty)


# --- lists ---------------------------------------------------------------------------------------


@given(readings)
def test_a_field_left_out_or_null_is_no_entries_in_either_reading(empty):
    assert list_field({}, NAME, empty=empty) == []
    assert list_field({NAME: None}, NAME, empty=empty) == []
    assert objects_field({NAME: None}, NAME, empty=empty) == []


@given(readings, st.lists(json_values, max_size=5))
def test_a_list_is_given_back_as_it_is_in_either_reading(empty, value):
    assert list_field({NAME: value}, NAME, empty=empty) == value


@given(readings, st.lists(json_values, min_size=1, max_size=5))
def test_a_non_empty_list_is_the_very_list_of_the_body(empty, value):
    assert list_field({NAME: value}, NAME, empty=empty) is value


@given(empty_not_lists)
def test_falsy_reading_takes_any_empty_value_as_no_entries(value):
    """Shopify's order webhooks: null, "", 0, false and {} all stand for an empty list."""
    assert list_field({NAME: value}, NAME, empty=Empty.FALSY) == []
    assert objects_field({NAME: value}, NAME, empty=Empty.FALSY) == []


@given(empty_not_lists.filter(lambda value: value is not None))
def test_null_reading_refuses_any_other_empty_value(value):
    """WooCommerce: only null is empty, so "", 0, false or {} where a list belongs is malformed."""
    _not_a_list({NAME: value}, Empty.NULL)


@given(readings, not_lists.filter(bool))
def test_a_non_empty_value_that_is_not_a_list_is_malformed_in_either_reading(empty, value):
    _not_a_list({NAME: value}, empty)


@given(not_lists)
def test_the_readings_differ_exactly_on_empty_values_that_are_not_null(value):
    """Where one reading gives [] and the other refuses, the value is empty and not null; else they agree."""
    try:
        falsy = list_field({NAME: value}, NAME, empty=Empty.FALSY)
    except MalformedPayload:
        falsy = None
    try:
        null = list_field({NAME: value}, NAME, empty=Empty.NULL)
    except MalformedPayload:
        null = None
    if value is None:
        assert falsy == null == []
    elif not value:
        assert falsy == [] and null is None
    else:
        assert falsy is None and null is None


@given(readings, st.text(max_size=8))
def test_the_message_names_the_field(empty, name):
    with pytest.raises(MalformedPayload) as raised:
        list_field({name: "x"}, name, empty=empty)
    assert str(raised.value) == f"{name} is not a list"


# --- lists of objects ----------------------------------------------------------------------------


@given(readings, objects)
def test_a_list_of_objects_is_given_back_as_it_is(empty, value):
    assert objects_field({NAME: value}, NAME, empty=empty) == value


@given(readings, objects, json_values.filter(lambda value: not isinstance(value, dict)), st.data())
def test_one_entry_that_is_not_an_object_makes_the_list_malformed(empty, value, stray, data):
    value.insert(data.draw(st.integers(0, len(value))), stray)
    with pytest.raises(MalformedPayload, match=f"^{NAME} holds something that is not an object$"):
        objects_field({NAME: value}, NAME, empty=empty)


@given(readings, not_lists.filter(bool))
def test_objects_of_a_value_that_is_not_a_list_is_malformed_as_a_list(empty, value):
    with pytest.raises(MalformedPayload, match=f"^{NAME} is not a list$"):
        objects_field({NAME: value}, NAME, empty=empty)


# --- text ----------------------------------------------------------------------------------------


@given(st.text())
def test_text_with_something_in_it_is_kept_unstripped_and_blank_text_is_none(value):
    assert text_or_none(value) == (value if value.strip() else None)


@given(json_values.filter(lambda value: not isinstance(value, str)))
def test_anything_but_text_is_none(value):
    assert text_or_none(value) is None
