"""`connector demo`: the whole path on this machine, with no configuration, told step by step.

A stand-in tracking backend, the app on real HTTP, a worker, SQLite in a temporary folder, a sample
store with influencers, signed sample order webhooks, and the conversions the backend verified.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path

import click
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from . import create_app, directory, registry
from .db import make_engine, make_sessionmaker, transaction
from .migrate import upgrade
from .models import AttributionRecord, Order
from .settings import Settings
from .standin_backend import StandinBackend
from .worker import Worker

SHOP = "demo-boutique.myshopify.com"


def _step(number: int, text: str) -> None:
    click.echo()
    click.secho(f"{number}. {text}", bold=True)


def _line(text: str, ok: bool | None = None) -> None:
    mark = {True: click.style("✓", fg="green"), False: click.style("✗", fg="red"), None: " "}[ok]
    click.echo(f"   {mark} {text}")


class _Server:
    """The Flask app on a free local port, in a thread (the demo's stand-in for gunicorn)."""

    def __init__(self, app):
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-app", daemon=True)

    def start(self) -> "_Server":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()


def demo_settings(folder: Path, backend_url: str, backend_secret: str, shopify_secret: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder / 'connector.db'}",
        shopify_api_secrets=(shopify_secret,),
        tracking_backend_url=backend_url,
        tracking_backend_secret=backend_secret,
        retry_schedule=(1, 2, 5),
        poll_interval=0.1,
    )


def run_demo(*, keep: bool = False) -> int:
    """Run the demo; returns the process exit code (0 when everything happened as expected)."""
    # The demo tells its own story; the components' logs (a refused forgery is a warning) would interleave.
    for name in ("connector", "werkzeug"):
        logging.getLogger(name).setLevel(logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="connector-demo-"))
    backend_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    shopify_secret = secrets.token_hex(16)
    shopify = registry.get("shopify")
    samples = shopify.samples

    click.secho("connector demo: a Shopify store's orders become signed influencer conversions", bold=True)
    backend = StandinBackend(backend_secret).start()
    settings = demo_settings(folder, backend.url, backend_secret, shopify_secret)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    server = worker = worker_thread = None
    try:
        _step(1, "Set-up")
        upgrade(settings.database_url)
        _line(f"SQLite database {folder / 'connector.db'} migrated to head", True)
        _line(f"stand-in tracking backend at {backend.url} (verifies Standard Webhooks signatures)", True)
        server = _Server(create_app(settings, engine=engine)).start()
        _line(f"connector app at {server.url}; Shopify webhooks go to {server.url}/webhooks/shopify", True)
        worker = Worker(settings, sessions, worker_id="demo-worker")
        worker_thread = threading.Thread(target=worker.run, name="demo-worker", daemon=True)
        worker_thread.start()
        _line("worker started: it handles stored events and delivers conversions", True)

        _step(2, "A store and its influencers")
        with transaction(sessions) as session:
            store = directory.add_store(session, settings.secret_key, "shopify", SHOP, access_token="shpat_demo")
            for tracking_id, code, campaign, email in [
                ("alice", "ALICE15", "spring-26", "alice@creators.example"),
                ("bob", None, "spring-26", "bob@creators.example"),
                ("carol", "CAROL10", "spring-26", "carol@creators.example"),
            ]:
                directory.add_influencer(session, store, tracking_id, code=code, campaign_id=campaign, email=email)
                _line(f"{tracking_id:<6} code {code or '-':<8} campaign {campaign}", True)
        _line(f"store {SHOP}: credits a purchase when the order is first seen paid; promo code > click > landing ref")

        _step(3, "Shopify sends signed order webhooks (real HTTP)")
        url = f"{server.url}/webhooks/shopify"
        http = requests.Session()

        def send(label, topic, body, *, webhook_id=None, signature=None, expect=200):
            raw = samples.encode(body)
            hdrs = samples.headers(raw, shop=SHOP, topic=topic, secret=shopify_secret, webhook_id=webhook_id,
                                   signature=signature)
            answer = http.post(url, data=raw, headers=hdrs, timeout=10)
            outcome = answer.json().get("outcome")
            _line(f"{label:<58} → {answer.status_code} {outcome}", answer.status_code == expect)
            return hdrs, answer.status_code == expect

        results = []
        code_order = samples.order(order_id=820982911946154508, name="#1001", codes=("alice15 ",), cart_ref="",
                                   landing_site="/", landing_site_ref="", financial_status="pending")
        first, ok = send("orders/create #1001, code 'alice15 ' typed by the shopper", "orders/create", code_order)
        results.append(ok)
        results.append(send("orders/create #1001 again (Shopify redelivers)", "orders/create", code_order,
                            webhook_id=first["X-Shopify-Webhook-Id"])[1])
        paid = {**code_order, "financial_status": "paid"}
        results.append(send("orders/paid #1001", "orders/paid", paid)[1])
        results.append(send("orders/updated #1001 (same order, later topic)", "orders/updated", paid)[1])
        landing_order = samples.order(order_id=820982911946154509, name="#1002", codes=(), cart_ref="",
                                      landing_site="/products/wool-scarf?ref=bob&utm_source=instagram",
                                      landing_site_ref="")
        results.append(send("orders/paid #1002, landed on /products/wool-scarf?ref=bob", "orders/paid", landing_order)[1])
        results.append(send("refunds/create for #1001 (one item returned)", "refunds/create",
                            samples.refund(order_id=820982911946154508))[1])
        test_order = samples.order(order_id=820982911946154510, name="#1003", codes=("CAROL10",), test=True)
        results.append(send("orders/paid #1003, a test order with code CAROL10", "orders/paid", test_order)[1])
        forged = samples.order(order_id=820982911946154511, name="#1004", codes=("ALICE15",))
        results.append(send("orders/paid #1004 signed with the wrong secret (forged)", "orders/paid", forged,
                            signature=base64.b64encode(os.urandom(32)).decode(), expect=401)[1])

        _step(4, "The worker attributes the orders and forwards conversions")
        received = backend.wait_for(3, timeout=15)
        time.sleep(0.3)  # let a fourth (unexpected) delivery show up if there were one
        received = backend.delivered()
        with sessions() as session:
            for order, record in session.execute(
                select(Order, AttributionRecord).join(AttributionRecord, AttributionRecord.order_id == Order.id)
                .order_by(Order.id)
            ):
                winners = ", ".join(f"{c['tracking_id']} (share {c['share']})" for c in record.credits) or "nobody"
                if order.purchase_conversion_id:
                    _line(f"{order.order_name}: credited to {winners}")
                else:
                    _line(f"{order.order_name}: not credited ({record.outcome}); the signals point to {winners}")
                for signal in record.signals:
                    _line(f"     {signal['source']:<24} {signal['value']!r:<10} {signal['status']:<7} {signal['reason']}")

        _step(5, "What the tracking backend received (each signature verified)")
        for entry in received:
            data = entry.body["data"]
            _line(f"{entry.body['type']:<24} {data['order_name']:<6} {data['amount']:>7} {data['currency']}  "
                  f"{data['tracking_id']:<6} by {data['method']:<12} id {entry.webhook_id}", entry.verified)
        expected = [("conversion.purchase", "#1001", "alice", "promo_code"),
                    ("conversion.purchase", "#1002", "bob", "landing_page"),
                    ("conversion.refund", "#1001", "alice", "promo_code")]
        got = sorted((e.body["type"], e.body["data"]["order_name"], e.body["data"]["tracking_id"],
                      e.body["data"]["method"]) for e in received)
        everything = all(results) and got == sorted(expected) and len({e.webhook_id for e in received}) == len(received)

        _step(6, "Result")
        if everything:
            _line("3 conversions delivered once each and verified: #1001 to alice by code, #1002 to bob by landing "
                  "ref, and #1001's refund; the test order, the redelivery and the forgery credited nobody", True)
        else:
            _line(f"unexpected: got {got}", False)
        click.echo()
        click.echo("   A sample conversion body, as the backend received it:")
        if received:
            click.echo("   " + json.dumps(received[0].body, indent=2).replace("\n", "\n   "))
        return 0 if everything else 1
    finally:
        if worker is not None:
            worker.stop()
            worker_thread.join(timeout=15)
        if server is not None:
            server.stop()
        backend.stop()
        engine.dispose()
        if keep:
            click.echo(f"\n   demo files kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
