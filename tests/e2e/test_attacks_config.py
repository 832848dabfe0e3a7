"""Secrets and configuration under attack: what the access log keeps, session tokens that never expire, keys
and backend secrets that rotate without losing anything."""

from __future__ import annotations

import base64
import re

import jwt
import pytest
import requests
from sqlalchemy import func, select

from standins.shopify.store import StandinShopify
from standins.woocommerce import samples as woo_samples
from connector import create_app, crypto
from connector.campaigns import directory
from connector.db import transaction
from connector.delivery.forwarder import Sender
from standins.live_server import LiveServer
from connector.models import Event, Store
from standins.backend import StandinBackend

from ..conftest import BACKEND_SECRET, SHOPIFY_SECRET

API_KEY = "config-api-key"
SHOP = "config-boutique.myshopify.com"
SECOND_BACKEND_SECRET = "whsec_" + base64.b64encode(b"another-32-byte-secret-for-whsec").decode()


def test_the_access_log_keeps_no_query_and_no_client_address(gunicorn):
    secrets = {"hmac": "a1b2c3d4e5", "code": "c0de5ecret", "state": "st4te5ecret", "id_token": "eyJhbGciOi.jwt"}
    for path in ("/shopify/callback", "/shopify/app", "/healthz"):
        requests.get(f"{gunicorn.url}{path}", params={**secrets, "shop": "x.myshopify.com"}, timeout=10)
    gunicorn.stop()  # flushes the log
    lines = gunicorn.access_log.read_text().splitlines()
    # (the fixture's own readiness checks of /healthz are in it too)
    assert len(lines) >= 3 and all(re.search(r'"GET /(shopify/callback|shopify/app|healthz)" \d{3} ', line)
                                   for line in lines), lines
    logged = "\n".join(lines)
    for secret in (*secrets.values(), "127.0.0.1", "?"):
        assert secret not in logged


@pytest.fixture
def shopify():
    with StandinShopify(API_KEY, SHOPIFY_SECRET) as standin:
        yield standin


def test_a_session_token_without_an_expiry_is_refused(settings, engine, shopify, sessions):
    server = LiveServer()
    server.start(create_app(settings.with_overrides(public_url=server.url, shopify_api_key=API_KEY,
                                                    shopify_admin_url=shopify.admin_url), engine=engine))
    try:
        good = jwt.decode(shopify.session_token(SHOP), options={"verify_signature": False})
        forever = jwt.encode({k: v for k, v in good.items() if k != "exp"}, SHOPIFY_SECRET, algorithm="HS256")
        answer = requests.get(f"{server.url}/shopify/app", params={"id_token": forever, "shop": SHOP}, timeout=10)
    finally:
        server.stop()
    assert answer.status_code == 400 and "no expiry" in answer.text
    assert [c for c in shopify.calls if c.kind == "token"] == []  # never exchanged
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Store)) == 0


def test_keys_rotate_and_the_old_key_can_go(cli, settings, sessions, monkeypatch):
    old, new = "old-key-" + "o" * 32, "new-key-" + "n" * 32
    with transaction(sessions) as session:
        store = directory.add_store(session, old, "woocommerce", "https://shop.example", access_token="ck_a:cs_b",
                                    webhook_secret="hook-secret-0123456789")
        store_id = store.id
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", f"{new},{old}")
    assert "2 credentials re-encrypted under the current key; 0 were already" in cli("keys", "rotate")
    assert "0 credentials re-encrypted under the current key; 2 were already" in cli("keys", "rotate")
    with sessions() as session:
        store = session.get(Store, store_id)
        assert crypto.decrypt(new, store_id, store.access_token_encrypted) == "ck_a:cs_b"
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt(old, store_id, store.webhook_secret_encrypted)
    # With the old key gone, the store's webhooks still verify (the edge decrypts its secret).
    app = create_app(settings.with_overrides(secret_key=new, previous_secret_keys=()), engine=None)
    body = woo_samples.encode(woo_samples.order(order_id=1, status="processing"))
    headers = woo_samples.headers(body, source="https://shop.example/", topic="order.created",
                                  secret="hook-secret-0123456789", delivery_id="d1", webhook_id=1)
    assert app.test_client().post("/webhooks/woocommerce", data=body, headers=headers).status_code == 200
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_keys_rotate_reports_what_no_key_decrypts(cli, sessions, monkeypatch):
    with transaction(sessions) as session:
        directory.add_store(session, "a-key-nobody-has-any-more-" + "x" * 20, "shopify", SHOP, access_token="shpat_x")
    monkeypatch.setenv("CONNECTOR_SECRET_KEY", "the-only-key-" + "k" * 32)
    printed = cli("keys", "rotate", code=1)
    assert "no configured key decrypts 1 credentials" in printed and "access_token_encrypted" in printed


def test_every_backend_secret_signs_so_the_backend_can_rotate():
    for verifier_secret in (BACKEND_SECRET, SECOND_BACKEND_SECRET):
        with StandinBackend(verifier_secret) as backend:
            result = Sender(backend.url, [BACKEND_SECRET, SECOND_BACKEND_SECRET]).send("cv_1", '{"type": "x"}')
            [received] = backend.wait_for(1)
        assert result.ok and received.verified
    signature = Sender("http://127.0.0.1:9/", [BACKEND_SECRET, SECOND_BACKEND_SECRET]).headers("cv_1", "{}")[
        "webhook-signature"]
    assert len(signature.split(" ")) == 2 and all(part.startswith("v1,") for part in signature.split(" "))
