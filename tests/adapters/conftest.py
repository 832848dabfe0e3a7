"""Fixtures the WooCommerce adapter tests share: the stand-in site and a local receiver of its requests."""

from __future__ import annotations

import pytest

from standins.woocommerce.store import StandinWooCommerce

from .woocommerce_helpers import Receiver


@pytest.fixture
def standin():
    with StandinWooCommerce() as standin:
        yield standin


@pytest.fixture
def receiver():
    with Receiver() as receiver:
        yield receiver
