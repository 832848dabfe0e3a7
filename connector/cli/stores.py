"""`connector stores`: stores added, listed and tuned by hand (custom apps, scripting, support)."""

from __future__ import annotations

from datetime import datetime, timezone

import click
from sqlalchemy import func, select

from connector.campaigns import directory
from connector.campaigns import influencers as campaigns
from connector.cli.shared import Context, fail_on_connector_errors, lines_wanted, pass_context
from connector.core.attribution import RENEWAL_POLICIES, SIGNAL_KINDS
from connector.core.credit_models import MODELS
from connector.core.rules import CREDIT_ON
from connector.db import transaction
from connector.installs.setup import run_setup
from connector.models import Influencer, Store


@click.group()
def stores() -> None:
    """Stores by hand: custom apps, scripting, support."""


def _store_options(function):
    """The store settings both `stores add` commands take, declared once."""
    for option in reversed(
        [
            click.option("--credit-on", type=click.Choice(CREDIT_ON), default="paid", show_default=True,
                         help="Credit a purchase when the order is first seen paid, or on creation."),
            click.option("--forward-test-orders", is_flag=True, help="Forward test orders, flagged test: true."),
            click.option("--precedence", default=",".join(SIGNAL_KINDS), show_default=True,
                         help="Signal kinds, strongest first."),
            click.option("--no-setup", is_flag=True, help="Do not register anything in the store."),
        ]
    ):
        function = option(function)
    return function


def _add_store(obj: Context, platform: str, key: str, no_setup: bool, **fields) -> None:
    """Save the store, then (unless --no-setup) run an install's setup now and say whether it got done."""
    now = datetime.now(timezone.utc)
    with transaction(obj.sessions) as session:
        store = directory.add_store(session, obj.settings.secret_key, platform, key, **fields)
        if not no_setup:
            # The same setup as an install; the worker retries it if the store cannot be reached now.
            store.setup_pending, store.setup_error, store.installed_at = True, None, store.installed_at or now
        store_id = store.id
        click.echo(f"store {store.id}: {store.platform} {store.domain} ({store.status})")
    if no_setup:
        return
    outcome = run_setup(obj.settings, obj.sessions, store_id, now)
    if not outcome.done:
        raise click.ClickException(f"setup not done ({outcome.summary}); the store is saved and "
                                   "`connector worker` retries the setup")
    click.echo(f"setup done: {outcome.summary}")


@stores.group("add")
def stores_add() -> None:
    """Add a store (or update the one with that domain)."""


@stores_add.command("shopify")
@click.argument("shop")
@click.option("--access-token", required=True, help="The Admin API access token of a custom app.")
@_store_options
@pass_context
@fail_on_connector_errors
def stores_add_shopify(obj: Context, shop: str, access_token: str, no_setup: bool, **fields) -> None:
    """Add a Shopify store by its shop domain (example.myshopify.com)."""
    _add_store(obj, "shopify", shop, no_setup, access_token=access_token, **fields)


@stores_add.command("woocommerce")
@click.argument("url")
@click.option("--consumer-key", required=True)
@click.option("--consumer-secret", required=True)
@click.option("--webhook-secret", required=True)
@_store_options
@pass_context
@fail_on_connector_errors
def stores_add_woocommerce(obj: Context, url: str, consumer_key: str, consumer_secret: str, webhook_secret: str,
                           no_setup: bool, **fields) -> None:
    """Add a WooCommerce store by its URL."""
    _add_store(obj, "woocommerce", url, no_setup, access_token=f"{consumer_key}:{consumer_secret}",
               webhook_secret=webhook_secret, **fields)


@stores.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def stores_list(obj: Context, as_json: bool) -> None:
    """Every store with its settings and its last event."""
    with obj.sessions() as session:
        rows = session.scalars(select(Store).order_by(Store.id)).all()
        influencer_counts = dict(session.execute(select(Influencer.store_id, func.count()).group_by(Influencer.store_id)).all())
    listing = [
        {
            "id": s.id, "platform": s.platform, "store": s.domain, "status": s.status, "credit_on": s.credit_on,
            "forward_test_orders": s.forward_test_orders, "precedence": s.precedence,
            "status_reason": s.status_reason, "setup": "pending" if s.setup_pending else ("done" if s.setup_at else "-"),
            "setup_error": s.setup_error,
            "access_token_expires_at": s.access_token_expires_at.isoformat() if s.access_token_expires_at else None,
            "reconciled_at": s.reconciled_at.isoformat() if s.reconciled_at else None,
            "influencers": influencer_counts.get(s.id, 0),
            "last_event_at": s.last_event_at.isoformat() if s.last_event_at else None,
        }
        for s in rows
    ]
    if not lines_wanted(listing, as_json, "no stores"):
        return
    for s in listing:
        click.echo(f"{s['id']:>4}  {s['platform']:<11} {s['store']:<40} {s['status']:<12} credit on {s['credit_on']}, "
                   f"{s['influencers']} influencers, setup {s['setup']}, last event {s['last_event_at'] or '-'}")
        if s["status"] != "active" and s["status_reason"]:
            click.secho(f"      {s['status']}: {s['status_reason']}", fg="red")
        elif s["setup_error"]:
            click.secho(f"      setup: {s['setup_error']}", fg="yellow")


@stores.command("attribution")
@click.argument("store")
@click.option("--model", type=click.Choice(MODELS), help="How clicks share an order (default last_click).")
@click.option("--window-days", type=click.IntRange(1, 365), help="Touches older than this are not credited.")
@click.option("--half-life-days", type=click.IntRange(1, 365), help="time_decay: a touch this much older counts half.")
@click.option("--precedence", help="Signal kinds, strongest first (code-vs-link precedence).")
@click.option("--credit-on", type=click.Choice(CREDIT_ON), help="Credit orders when paid (default) or on creation.")
@click.option("--test-orders/--no-test-orders", default=None, help="Credit the store's test orders, or not (default).")
@click.option("--lifetime-days", type=click.IntRange(0, 3650),
              help="A returning customer's orders go to their first credited order's influencers this long (0: off).")
@click.option("--renewals", type=click.Choice(RENEWAL_POLICIES),
              help="Subscription renewals: credit them to the subscription's start (default), or ignore them.")
@pass_context
@fail_on_connector_errors
def stores_attribution(obj: Context, store: str, model, window_days, half_life_days, precedence, credit_on,
                       test_orders, lifetime_days, renewals) -> None:
    """Show or set STORE's attribution model, window, precedence, test orders, when orders are credited, the
    returning customers' lifetime and subscription renewals."""
    with transaction(obj.sessions) as session:
        found = directory.find_store(session, store)
        campaigns.set_attribution(found, model=model, window_days=window_days, half_life_days=half_life_days,
                                  precedence=precedence, credit_on=credit_on, forward_test_orders=test_orders,
                                  lifetime_days=lifetime_days, renewals=renewals)
        lifetime = f"{found.lifetime_days} days" if found.lifetime_days else "off"
        click.echo(f"{found.domain}: {found.attribution_model}, window {found.attribution_window_days} days, "
                   f"half-life {found.half_life_days} days, precedence {found.precedence}, credit on "
                   f"{found.credit_on}, test orders {'credited' if found.forward_test_orders else 'not credited'}, "
                   f"returning customers {lifetime}, renewals {found.renewals}")
