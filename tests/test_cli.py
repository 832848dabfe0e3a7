"""The `connector` command: stores, influencers, conversions and events by hand, with clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import select

from connector.cli import main
from connector.models import Store

from .helpers import drain, post_shopify
from standins.shopify import samples


def test_every_command_has_help_without_any_configuration():
    for args in (["--help"], ["worker", "--help"], ["stores", "add", "shopify", "--help"],
                 ["influencers", "add", "--help"], ["conversions", "replay", "--help"], ["db", "upgrade", "--help"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_stores_and_influencers_by_hand(cli):
    assert "store 1: shopify my-shop.myshopify.com" in cli("stores", "add", "shopify", "My-Shop.myshopify.com",
                                                          "--access-token", "shpat_x", "--no-setup")
    cli("influencers", "add", "my-shop.myshopify.com", "alice", "--code", "ALICE15", "--campaign", "spring-26",
        "--email", "alice@example.com", "--no-setup")
    cli("influencers", "add", "my-shop.myshopify.com", "bob", "--no-setup")
    listing = cli("influencers", "list", "my-shop.myshopify.com")
    assert "alice" in listing and "ALICE15" in listing and "bob" in listing
    stores = json.loads(cli("stores", "list", "--json"))
    assert stores[0]["store"] == "my-shop.myshopify.com" and stores[0]["influencers"] == 2


def test_clear_errors_for_duplicates_unknown_stores_and_bad_domains(cli):
    cli("stores", "add", "shopify", "my-shop.myshopify.com", "--access-token", "t", "--no-setup")
    cli("influencers", "add", "my-shop.myshopify.com", "alice", "--code", "ALICE15", "--no-setup")
    assert "already belongs to alice" in cli("influencers", "add", "my-shop.myshopify.com", "eve", "--code",
                                             "alice15", "--no-setup", code=1)
    assert "already used" in cli("influencers", "add", "my-shop.myshopify.com", "ALICE", "--no-setup", code=1)
    assert "no store" in cli("influencers", "list", "other.myshopify.com", code=1)
    assert "not a valid shopify store" in cli("stores", "add", "shopify", "evil.com", "--access-token", "t",
                                              "--no-setup", code=1)


def test_a_bad_setting_stops_with_one_line_naming_it(cli, monkeypatch):
    monkeypatch.setenv("CONNECTOR_LEASE_SECONDS", "soon")
    output = cli("stores", "list", code=1)
    assert "CONNECTOR_LEASE_SECONDS" in output and "Traceback" not in output


def test_conversions_and_events_listing(cli, client, settings, sessions, store):
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    post_shopify(client, "orders/paid", {**samples.order(order_id=5), "currency": "euros"})  # kept, flagged
    drain(settings, sessions)
    [row] = json.loads(cli("conversions", "list", "--json"))
    assert row["type"] == "conversion.purchase" and row["tracking_id"] == "alice" and row["status"] == "pending"
    shown = json.loads(cli("conversions", "show", row["id"]))
    assert shown["body"]["data"]["conversion_id"] == row["id"]
    assert shown["attribution"]["method"] == "promo_code"
    assert "rejected" in cli("events", "list", "--status", "rejected")
    assert "no conversion nope" in cli("conversions", "replay", "nope", code=1)
    cli("conversions", "replay", code=2)


def test_the_demo_runs_end_to_end_with_no_configuration(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONNECTOR_", "TRACKING_", "SHOPIFY_")) and k != "DATABASE_URL"}
    result = subprocess.run([sys.executable, "-m", "connector.cli", "demo"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 conversions delivered once each and verified" in result.stdout
    assert "a click followed to its conversion" in result.stdout and "credit by click, credits bob 1" in result.stdout
    assert "6 webhooks registered by GraphQL" in result.stdout and "4 webhooks created by REST" in result.stdout
    assert "(forged)" in result.stdout and "→ 401" in result.stdout
    assert "✗" not in result.stdout


def test_db_upgrade_on_an_empty_database(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECTOR_ENV", "development")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0 and "head" in result.output


def test_the_web_app_refuses_to_start_on_a_bad_setting_with_one_line(monkeypatch, capsys):
    from connector import create_app

    monkeypatch.setenv("CONNECTOR_ENV", "development")
    monkeypatch.setenv("TRACKING_BACKEND_URL", "http://127.0.0.1:9/x")
    monkeypatch.delenv("TRACKING_BACKEND_SECRET", raising=False)
    with pytest.raises(SystemExit) as stopped:
        create_app()
    assert stopped.value.code == 3  # gunicorn stops instead of rebooting the worker forever
    printed = capsys.readouterr().err
    assert "TRACKING_BACKEND_SECRET" in printed and printed.count("\n") == 1


def test_gunicorn_stops_on_a_bad_setting_instead_of_rebooting(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_", "TRACKING_", "SHOPIFY_"))}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"  # and no CONNECTOR_SECRET_KEY: production refuses
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    result = subprocess.run([gunicorn, "connector:create_app()", "--bind", "127.0.0.1:0", "--workers", "1"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.count("configuration: CONNECTOR_SECRET_KEY is required") == 1


def test_events_replay_takes_up_skipped_events_and_never_credits_twice(cli, client, settings, sessions, store):
    from connector.db import transaction

    with transaction(sessions) as session:
        session.merge(store).status = "uninstalled"
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    drain(settings, sessions)
    assert "skipped" in cli("events", "list", "--status", "skipped")
    with transaction(sessions) as session:
        session.merge(store).status = "active"
    assert "queued 1 events" in cli("events", "replay", "--skipped")
    drain(settings, sessions)
    assert [c["type"] for c in json.loads(cli("conversions", "list", "--json"))] == ["conversion.purchase"]
    # Replaying a handled event again changes nothing: the order is already credited.
    cli("events", "replay", "1")
    drain(settings, sessions)
    assert len(json.loads(cli("conversions", "list", "--json"))) == 1
    assert "no event 999" in cli("events", "replay", "999", code=1)
    cli("events", "replay", code=2)


def test_shopify_app_config_declares_the_privacy_webhooks_and_urls(cli, monkeypatch):
    import tomllib

    monkeypatch.setenv("SHOPIFY_API_KEY", "key-123")
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "https://connector.example")
    config = tomllib.loads(cli("shopify", "app-config"))
    assert config["client_id"] == "key-123"
    assert config["application_url"] == "https://connector.example/shopify/app"
    assert config["auth"]["redirect_urls"] == ["https://connector.example/shopify/callback"]
    assert config["access_scopes"]["scopes"] == "read_orders,read_customers,write_discounts,write_pixels,read_customer_events"
    compliance = [s for s in config["webhooks"]["subscriptions"] if "compliance_topics" in s]
    assert compliance[0]["compliance_topics"] == ["customers/data_request", "customers/redact", "shop/redact"]
    assert compliance[0]["uri"] == "https://connector.example/webhooks/shopify"
    monkeypatch.delenv("SHOPIFY_API_KEY")
    assert "SHOPIFY_API_KEY" in cli("shopify", "app-config", code=1)


def test_stores_add_without_no_setup_registers_webhooks_and_reconcile_reads_the_store(cli, sessions):
    graphql = "https://cli-shop.myshopify.com/admin/api/2026-10/graphql.json"
    created = []

    def answer(request):
        query = json.loads(request.body)["query"]
        if "webhookSubscriptionCreate" in query:
            created.append(json.loads(request.body)["variables"]["topic"])
            data = {"webhookSubscriptionCreate": {"webhookSubscription": {"id": "gid://x/1"}, "userErrors": []}}
        elif "webhookSubscriptions" in query:
            data = {"webhookSubscriptions": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
        else:
            data = {"orders": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
        return 200, {}, json.dumps({"data": data})

    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, graphql, callback=answer)
        output = cli("stores", "add", "shopify", "cli-shop.myshopify.com", "--access-token", "shpat_custom")
        assert "setup done: webhooks: 6 created" in output and len(created) == 6
        assert "0 orders updated since 2026-01-01" in cli("reconcile", "cli-shop.myshopify.com", "--since",
                                                          "2026-01-01T00:00:00Z")
        # Unreachable (responses refuses an unregistered URL with ConnectionError): the store is kept,
        # setup stays pending for the worker, and the command says so.
        failed = cli("stores", "add", "shopify", "down-shop.myshopify.com", "--access-token", "t", code=1)
        assert "worker` retries" in failed
    with sessions() as session:
        down = session.scalars(select(Store).where(Store.domain == "down-shop.myshopify.com")).one()
        assert down.setup_pending and "ConnectionError" in down.setup_error


def test_stores_attribution_sets_the_model_window_and_precedence(cli):
    cli("stores", "add", "shopify", "my-shop.myshopify.com", "--access-token", "t", "--no-setup")
    assert "last_click, window 30 days" in cli("stores", "attribution", "my-shop.myshopify.com")
    shown = cli("stores", "attribution", "my-shop.myshopify.com", "--model", "time_decay", "--window-days", "14",
                "--half-life-days", "3", "--precedence", "click,promo_code")
    assert "time_decay, window 14 days, half-life 3 days, precedence click,promo_code" in shown
    assert "credit on paid, test orders not credited" in shown
    # the same function the merchant app's settings use: test orders and when orders are credited too
    changed = cli("stores", "attribution", "my-shop.myshopify.com", "--credit-on", "creation", "--test-orders")
    assert "time_decay" in changed and "credit on creation, test orders credited" in changed
    assert "credit on creation, test orders not credited" in cli("stores", "attribution", "my-shop.myshopify.com",
                                                                 "--no-test-orders")
    assert "must list some of" in cli("stores", "attribution", "my-shop.myshopify.com", "--precedence", "clicks",
                                      code=1)
    # returning customers and renewals: off and credited by default, then set, then kept by a later change
    assert "returning customers off, renewals credit" in cli("stores", "attribution", "my-shop.myshopify.com")
    both = cli("stores", "attribution", "my-shop.myshopify.com", "--lifetime-days", "365", "--renewals", "ignore",
               "--precedence", "customer,promo_code")
    assert "precedence customer,promo_code" in both and "returning customers 365 days, renewals ignore" in both
    assert "returning customers 365 days" in cli("stores", "attribution", "my-shop.myshopify.com", "--model", "linear")
    assert "--lifetime-days" in cli("stores", "attribution", "my-shop.myshopify.com", "--lifetime-days", "-1", code=2)
    assert "--renewals" in cli("stores", "attribution", "my-shop.myshopify.com", "--renewals", "maybe", code=2)


def test_every_list_command_speaks_json(cli, settings, sessions, store, client):
    post_shopify(client, "orders/paid", samples.order(codes=("ALICE15",)))
    events = json.loads(cli("events", "list", "--json"))
    assert [(e["topic"], e["status"]) for e in events] == [("orders/paid", "pending")]
    assert events[0]["received_at"].endswith("Z")
    listed = json.loads(cli("influencers", "list", store.domain, "--json"))
    assert {(i["tracking_id"], i["promo_code"]) for i in listed} == {("alice", "ALICE15"), ("bob", None),
                                                                     ("carol", "CAROL10")}
    for command in (("stores", "list"), ("conversions", "list"), ("privacy", "requests"), ("workers",)):
        assert isinstance(json.loads(cli(*command, "--json")), list), command



@pytest.mark.parametrize("raw", ["2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "yesterday",
                                 "2026-02-30T00:00:00Z"])
def test_a_time_is_taken_in_one_form_with_its_offset_and_refused_clearly_otherwise(cli, raw):
    cli("stores", "add", "shopify", "time-shop.myshopify.com", "--access-token", "t", "--no-setup")
    refused = cli("reconcile", "time-shop.myshopify.com", "--since", raw, code=2)
    assert "Invalid value for '--since'" in refused and ("RFC 3339" in refused or "not a time that exists" in refused)
    refused = cli("influencers", "add", "time-shop.myshopify.com", "dora", "--code", "DORA5", "--discount", "5%",
                  "--starts-at", raw, code=2)
    assert "Invalid value for '--starts-at'" in refused
