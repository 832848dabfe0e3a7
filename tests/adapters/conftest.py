"""Fixtures the WooCommerce adapter tests share: `standin` (tests/conftest.py's `woo` by the name these tests give
it) and a local receiver of the stand-in's requests."""

from __future__ import annotations

import pytest

from .woocommerce_helpers import Receiver


@pytest.fixture
def standin(woo):
    """The WooCommerce stand-in, defined once as `woo`."""
    return woo


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver
