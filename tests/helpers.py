"""Sending Shopify-shaped, really signed deliveries at the app, and running a worker to the end."""

from __future__ import annotations

import json
import time
import uuid

import jwt
from sqlalchemy import select

from standins.shopify import samples
from connector.models import Conversion, Event
from connector.worker import Worker

from .conftest import API_KEY, SHOP, SHOPIFY_SECRET


def session_token(*, secret=SHOPIFY_SECRET, audience=API_KEY, shop=SHOP, dest_shop=None, lifetime=60,
                  algorithm="HS256", not_before=-5, drop: tuple[str, ...] = ()) -> str:
    """A session token as App Bridge gets it from Shopify (HS256 under the app's secret, one minute of life)."""
    now = int(time.time())
    claims = {"iss": f"https://{shop}/admin", "dest": f"https://{dest_shop or shop}", "aud": audience, "sub": "42",
              "exp": now + lifetime, "nbf": now + not_before, "iat": now - 5, "jti": str(uuid.uuid4()), "sid": "s1"}
    for name in drop:
        claims.pop(name)
    return jwt.encode(claims, secret if algorithm != "none" else None, algorithm=algorithm)


def post_shopify(client, topic: str, body, *, shop: str = SHOP, secret: str = SHOPIFY_SECRET, webhook_id=None,
                 signature=None, raw: bytes | None = None, drop: tuple[str, ...] = ()):
    """A delivery as Shopify sends it from `shop`: an order in `body` is made that shop's (its order_status_url,
    which Shopify builds from the shop). `raw` bytes are sent exactly as given."""
    if raw is None and topic.startswith("orders/") and isinstance(body, dict):
        body = samples.of_shop(body, shop)
    data = raw if raw is not None else samples.encode(body)
    headers = samples.headers(data, shop=shop, topic=topic, secret=secret, webhook_id=webhook_id, signature=signature)
    for name in drop:
        headers.pop(name)
    return client.post("/webhooks/shopify", data=data, headers=headers)


def drain(settings, sessions, **kwargs) -> Worker:
    """A worker in burst mode: everything due now is handled (and delivered, when a backend is set)."""
    worker = Worker(settings, sessions, **kwargs)
    worker.run(burst=True)
    return worker


def conversions(sessions) -> list[Conversion]:
    with sessions() as session:
        return list(session.scalars(select(Conversion).order_by(Conversion.created_at, Conversion.id)))


def bodies(sessions) -> list[dict]:
    return [json.loads(c.body) for c in conversions(sessions)]


def events(sessions) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))
