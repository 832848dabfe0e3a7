"""What crediting a WooCommerce order needs from the store beyond its delivery (PlatformAdapter.enrich).

- `needs.refunds`: one read of the order's refunds (`GET orders/{id}/refunds`, pages of 100) replaces the
  normaliser's estimates with the refunds as the store has them (answers.py).
- `needs.renewal_origin`: one read of the renewal's subscription (`GET subscriptions/{id}`, WooCommerce
  Subscriptions' REST API); its `parent_id` is the order that started it (answers.py).

An outage or throttling (a timeout, a dropped connection, 429, a 5xx: rest_api.may_pass) or refused keys are raised
as PlatformError, so the worker tries the event again later. Anything else that keeps the answer from being read
(a 404, a redirect, an answer that is not JSON or not the expected shape) will not pass by waiting: the refunds
stay as estimated (with a log line, as the seam has no place for a note on them), and a renewal's start comes back
as its `lookup_error`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Callable

from connector.core.platform import Needs, OrderEvent, Renewal
from connector.errors import PlatformAuthError, PlatformError
from connector.settings import Settings

from . import answers as _answers
from .credentials import client_for
from .rest_api import NO_ROUTE, SUBSCRIPTION_NOT_FOUND, NotFound, WooCommerceClient, may_pass

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

log = logging.getLogger("connector.woocommerce")
MAX_ERROR = 300


class _Client:
    """The store's client, made on first use: an event that needs no call reads no credentials."""

    def __init__(self, make: Callable[[], WooCommerceClient]):
        self._make, self._client = make, None

    def __call__(self) -> WooCommerceClient:
        if self._client is None:
            self._client = self._make()
        return self._client


def enrich(settings: Settings, sessions: "sessionmaker", store_id: int, event: OrderEvent,
           needs: Needs) -> OrderEvent:
    """The event with its refunds exact and its renewal's start, as far as `needs` asks and the store tells."""
    client = _Client(lambda: client_for(settings, sessions, store_id))
    if needs.refunds and event.refunds:
        event = exact_refunds(client, event)
    if needs.renewal_origin and event.renewal is not None and event.renewal.origin_order_id is None:
        event = replace(event, renewal=renewal_origin(client, event.renewal))
    return event


def exact_refunds(client: Callable[[], WooCommerceClient], event: OrderEvent) -> OrderEvent:
    """The event with the refunds its delivery listed as the store has them; as it was when they cannot be read."""
    try:
        answer = client().order_refunds(event.order_id)
    except PlatformError as exc:
        _raise_if_passing(exc)
        log.warning("order %s: refunds kept as estimated: %s", event.order_id, _short(exc))
        return event
    refunds, notes = _answers.exact_refunds(event, answer)
    for note in notes:
        log.info("order %s: %s", event.order_id, note)
    return replace(event, refunds=refunds)


def renewal_origin(client: Callable[[], WooCommerceClient], renewal: Renewal) -> Renewal:
    """The renewal with the order that started its subscription, or the reason it could not be read."""
    subscription_id = renewal.subscription_id
    if subscription_id is None:
        return replace(renewal, lookup_error=f"the order names no subscription ({renewal.marker} without a "
                                             "subscription id): its start cannot be looked up")
    try:
        subscription = client().subscription(subscription_id)
    except NotFound as exc:
        return replace(renewal, lookup_error=_not_found(subscription_id, exc))
    except PlatformError as exc:
        _raise_if_passing(exc)
        return replace(renewal, lookup_error=f"subscription {subscription_id} could not be read: {_short(exc)}")
    return _answers.renewal_origin(renewal, subscription_id, subscription)


def _not_found(subscription_id: str, exc: NotFound) -> str:
    if exc.code == NO_ROUTE:
        return "WooCommerce Subscriptions is not active in the store (its REST API answers rest_no_route)"
    if exc.code == SUBSCRIPTION_NOT_FOUND:
        return f"subscription {subscription_id} is gone from the store ({exc.code})"
    return f"subscription {subscription_id} was not found ({_short(exc.code)})"


def _raise_if_passing(exc: PlatformError) -> None:
    """An outage, throttling or refused keys are raised again: the worker retries the event later, when it may
    have passed (keys come back when the merchant authorises the app again; the store's alert says so meanwhile)
    rather than sending an estimate, or no renewal credit, for good."""
    if may_pass(exc) or isinstance(exc, PlatformAuthError):
        raise exc


def _short(what: Exception | str) -> str:
    """An error for the record, short, and holding only text the database can store (it quotes the store's answer)."""
    text = str(what)[:MAX_ERROR].replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")
