"""A signed WooCommerce body must have the shape its topic carries (adapters/woocommerce/binding.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from standins.woocommerce import samples
from adapters.woocommerce.binding import check
from connector.errors import NotTopicBody


def _bytes(body) -> bytes:
    return samples.encode(body)


def test_each_topics_own_body_passes():
    for topic in ("order.created", "order.updated", "order.restored"):
        check(topic, _bytes(samples.order()))
    check("order.deleted", _bytes(samples.deleted(5)))
    check("customer.created", _bytes(samples.customer()))


@pytest.mark.parametrize("topic, body", [
    ("order.deleted", samples.order()),  # a created order re-sent as a deletion
    ("order.deleted", {"id": 5, "status": "trash"}),
    ("order.deleted", {"id": "5"}),
    ("order.deleted", {"id": 0}),
    ("customer.created", samples.order()),  # an order re-sent as a sign-up
    ("order.created", samples.customer()),
    ("order.created", samples.deleted(5)),
    ("order.updated", {**samples.order(order_id=7), "_links": {"self": [{"href": "https://s/wp-json/wc/v3/orders/8"}]}}),
    ("customer.created", {**samples.customer(customer_id=7),
                          "_links": {"self": [{"href": "https://s/wp-json/wc/v3/orders/7"}]}}),
    ("order.created", ["not", "an", "object"]),
])
def test_a_body_of_another_shape_is_refused(topic, body):
    with pytest.raises(NotTopicBody):
        check(topic, _bytes(body))


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200),
       topic=st.sampled_from(["order.created", "order.updated", "order.deleted", "customer.created"]))
def test_any_bytes_are_refused_cleanly_or_pass(body, topic):
    try:
        check(topic, body)
    except NotTopicBody:
        pass
