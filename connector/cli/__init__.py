"""The `connector` command: one entry point for operators."""

from __future__ import annotations

import functools
import json
import logging
import signal
from importlib.metadata import entry_points
from datetime import datetime, timezone

import click
from sqlalchemy import func, select

from connector.campaigns import influencers as campaigns, directory
from connector.intake import inbox
from connector.delivery import outbox
from connector import registry
from connector.core.attribution import SIGNAL_KINDS
from connector.campaigns.codes import sync_codes
from connector.core.credit_models import MODELS
from connector.db import make_engine, make_sessionmaker, transaction
from connector.errors import ConfigurationError, ConnectorError, PlatformError
from connector.installs.setup import run_setup
from connector.models import AttributionRecord, Conversion, DeliveryAttempt, Event, Influencer, Store
from connector.core.platform import FIXED_AMOUNT, PERCENTAGE
from connector.core.rules import CREDIT_ON
from connector.settings import Settings, load_settings


class Context:
    """Settings and database handles, made on first use so `--help` needs no configuration."""

    def __init__(self):
        self._settings: Settings | None = None
        self._sessions = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigurationError as exc:
                raise click.ClickException(f"configuration: {exc}") from None
        return self._settings

    @property
    def sessions(self):
        if self._sessions is None:
            self._sessions = make_sessionmaker(make_engine(self.settings.database_url))
        return self._sessions


pass_context = click.make_pass_decorator(Context, ensure=True)


def _fail_on_connector_errors(function):
    """Turn our own errors into one clear line and exit code 1, never a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ConnectorError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


class _Commands(click.Group):
    """The main group; commands living in other modules (`privacy`, the adapters' `shopify ...`) join on first use.

    Loading them lazily keeps `connector.cli` importable by those modules without a cycle.
    """

    _extras_loaded = False

    def _load_extras(self) -> None:
        if self._extras_loaded:
            return
        self._extras_loaded = True
        from connector.cli.keys import keys
        from connector.cli.privacy import privacy

        self.add_command(keys)
        self.add_command(privacy)
        for adapter in registry.adapters().values():
            group = getattr(adapter, "cli", None)
            if group is not None:
                self.add_command(group)
        # Commands from outside production code (the stand-ins' `demo`) join through entry points, so
        # nothing here imports them.
        for entry in entry_points(group="connector.commands"):
            self.add_command(entry.load(), entry.name)

    def list_commands(self, ctx):
        self._load_extras()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._load_extras()
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Store orders in, signed influencer conversions out."""
    ctx.ensure_object(Context)


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


# -- serving --------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@pass_context
def serve(obj: Context, host: str, port: int) -> None:
    """Run the web app (development server; production runs gunicorn from the Procfile)."""
    from connector import create_app

    from connector.web.request_log import PathOnlyLog

    _log_to_stderr()
    # Request lines carry OAuth codes, HMACs and session tokens in their queries: logged as method, path and
    # status only, without the client's address, as the Procfile's gunicorn does.
    create_app(obj.settings).run(host=host, port=port, threaded=True, request_handler=PathOnlyLog)


@main.command()
@click.option("--burst", is_flag=True, help="Do everything that is due now, then exit.")
@pass_context
def worker(obj: Context, burst: bool) -> None:
    """Handle stored events and deliver due conversions (several may run at once on PostgreSQL)."""
    from connector.worker import Worker

    _log_to_stderr()
    if not obj.settings.delivery_enabled:
        click.echo("TRACKING_BACKEND_URL is not set: conversions are created and queue up undelivered.", err=True)
    runner = Worker(obj.settings, obj.sessions)
    # SIGTERM: finish the delivery in hand, release the claims, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: runner.stop())
    signal.signal(signal.SIGINT, lambda *_: runner.stop())
    runner.run(burst=burst)


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_context
def db_upgrade(obj: Context, revision: str) -> None:
    """Run the Alembic migrations up to head."""
    from connector.migrate import upgrade

    upgrade(obj.settings.database_url, revision)
    click.echo(f"database at {revision}")


# -- stores ---------------------------------------------------------------------------------------


@main.group()
def stores() -> None:
    """Stores by hand: custom apps, scripting, support."""


def _store_options(function):
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
@_fail_on_connector_errors
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
@_fail_on_connector_errors
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
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    if not listing:
        click.echo("no stores")
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
@pass_context
@_fail_on_connector_errors
def stores_attribution(obj: Context, store: str, model, window_days, half_life_days, precedence) -> None:
    """Show or set STORE's attribution model, window and precedence."""
    with transaction(obj.sessions) as session:
        found = directory.find_store(session, store)
        campaigns.set_attribution(found, model=model, window_days=window_days, half_life_days=half_life_days,
                                  precedence=precedence)
        click.echo(f"{found.domain}: {found.attribution_model}, window {found.attribution_window_days} days, "
                   f"half-life {found.half_life_days} days, precedence {found.precedence}")


# -- influencers ----------------------------------------------------------------------------------


@main.group()
def influencers() -> None:
    """Influencers by hand."""


def _discount(value: str | None, starts: datetime | None, ends: datetime | None, usage_limit: int | None,
              once: bool):
    """`15%` is 15 percent off; `10` or `10.50` is that amount off the order, in the store's currency."""
    if value is None:
        return None
    value = value.strip()
    kind = PERCENTAGE if value.endswith("%") else FIXED_AMOUNT
    return campaigns.discount_terms(kind, value.rstrip("%"), starts_at=starts, ends_at=ends,
                                    usage_limit=usage_limit, once_per_customer=once)


@influencers.command("add")
@click.argument("store")
@click.argument("tracking_id")
@click.option("--code", help="The influencer's promo code (with --no-setup: a code that already exists in the store).")
@click.option("--discount", help="What the code gives: 15% (percent off) or 10.00 (amount off the order). "
                                 "Needed to create the code in the store.")
@click.option("--starts-at", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]))
@click.option("--ends-at", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]))
@click.option("--usage-limit", type=click.IntRange(min=1), help="Uses of the code in all.")
@click.option("--once-per-customer", is_flag=True)
@click.option("--campaign", "campaign_id")
@click.option("--email", help="Kept only as a SHA-256 hash, for self-referral checks.")
@click.option("--customer-id", help="The influencer's own customer id in the store, for self-referral checks.")
@click.option("--no-setup", is_flag=True, help="Do not create the promo code in the store.")
@pass_context
@_fail_on_connector_errors
def influencers_add(obj: Context, store: str, tracking_id: str, code, discount, starts_at, ends_at, usage_limit,
                    once_per_customer, campaign_id, email, customer_id, no_setup) -> None:
    """Add an influencer to STORE (its shop domain or URL, as it was added).

    Without --no-setup, a --code with a --discount is created in the store now (the worker retries it if the
    store cannot be reached).
    """
    if code and not no_setup and not discount:
        raise click.ClickException("say what the code gives with --discount (15% or 10.00), or use --no-setup "
                                   "for a code that already exists in the store")
    to_utc = [moment.replace(tzinfo=moment.tzinfo or timezone.utc) if moment else None for moment in (starts_at, ends_at)]
    now = datetime.now(timezone.utc)
    try:
        terms = None if no_setup else _discount(discount, *to_utc, usage_limit, once_per_customer)
        with transaction(obj.sessions) as session:
            found = directory.find_store(session, store)
            existing = campaigns.find_influencer(session, found, tracking_id)
            if existing is not None:
                # `add` never rewrites someone: a typo must not wipe another influencer's code.
                raise click.ClickException(f"tracking id {tracking_id!r} is already used in {found.domain} "
                                           f"(by {existing.tracking_id})")
            spec = campaigns.InfluencerSpec(tracking_id, campaign_id, email, code, terms, customer_id)
            influencer, outcome = campaigns.upsert_influencer(session, found, spec, now)
            store_id, influencer_id = found.id, influencer.id
            click.echo(f"influencer {influencer.tracking_id} {outcome} in {found.domain}"
                       + (f" with code {influencer.promo_code}" if influencer.promo_code else ""))
    except (campaigns.InvalidField, campaigns.Conflict) as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from None
    if terms is None:
        return
    sync_codes(obj.settings, obj.sessions, store_id, now)
    with obj.sessions() as session:
        influencer = session.get(Influencer, influencer_id)
        if influencer.code_status != "active":
            raise click.ClickException(f"code {influencer.requested_code} is {influencer.code_status}"
                                       f"{': ' + influencer.code_error if influencer.code_error else ''}; "
                                       "`connector worker` retries codes that can be retried")
        click.echo(f"code {influencer.promo_code} created in the store")


@influencers.command("remove")
@click.argument("store")
@click.argument("tracking_id")
@pass_context
@_fail_on_connector_errors
def influencers_remove(obj: Context, store: str, tracking_id: str) -> None:
    """Stop crediting an influencer; their code is deactivated in the store by the worker. History is kept."""
    with transaction(obj.sessions) as session:
        found = directory.find_store(session, store)
        influencer = campaigns.find_influencer(session, found, tracking_id)
        if influencer is None:
            raise click.ClickException(f"no influencer {tracking_id!r} in {found.domain}")
        removed = campaigns.remove_influencer(session, found, influencer, datetime.now(timezone.utc))
        click.echo(f"{influencer.tracking_id} {'removed' if removed else 'was already removed'}"
                   f" (code {influencer.code_status})")


@influencers.command("list")
@click.argument("store")
@pass_context
@_fail_on_connector_errors
def influencers_list(obj: Context, store: str) -> None:
    """The influencers of STORE, with their codes' state in the store."""
    with obj.sessions() as session:
        found = directory.find_store(session, store)
        rows = directory.influencers_of(session, found.id)
    if not rows:
        click.echo("no influencers")
    for i in rows:
        click.echo(f"{i.tracking_id:<24} code {i.promo_code or '-':<16} {i.code_status:<9} campaign "
                   f"{i.campaign_id or '-':<16}{'' if i.active else ' (removed)'}"
                   + (f"  {i.code_error}" if i.code_error else ""))


# -- conversions and events -----------------------------------------------------------------------


@main.group()
def conversions() -> None:
    """Conversions and their delivery to the tracking backend."""


@conversions.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--store", "store_key")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_context
@_fail_on_connector_errors
def conversions_list(obj: Context, status, store_key, limit: int, as_json: bool) -> None:
    """Newest conversions first, with their delivery state."""
    with obj.sessions() as session:
        query = select(Conversion, Store.domain).join(Store, Store.id == Conversion.store_id)
        if status:
            query = query.where(Conversion.status == status)
        if store_key:
            query = query.where(Conversion.store_id == directory.find_store(session, store_key).id)
        rows = session.execute(query.order_by(Conversion.created_at.desc(), Conversion.id.desc()).limit(limit)).all()
    listing = [
        {
            "id": c.id, "type": c.type, "store": domain, "amount": str(c.amount), "currency": c.currency,
            "tracking_id": c.tracking_id, "status": c.status, "attempts": c.attempts, "reverses": c.reverses,
            "next_attempt_at": c.next_attempt_at.isoformat() if c.status == "pending" else None,
            "last_error": c.last_error,
        }
        for c, domain in rows
    ]
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    if not listing:
        click.echo("no conversions")
    for c in listing:
        click.echo(f"{c['id']}  {c['type']:<23} {c['amount']:>10} {c['currency']}  {c['tracking_id'] or '-':<14} "
                   f"{c['status']:<9} attempts {c['attempts']}" + (f"  last error: {c['last_error'][:60]}" if c["last_error"] else ""))


@conversions.command("show")
@click.argument("conversion_id")
@pass_context
def conversions_show(obj: Context, conversion_id: str) -> None:
    """One conversion: its body, its attempts and the attribution record of its order."""
    with obj.sessions() as session:
        conversion = session.get(Conversion, conversion_id)
        if conversion is None:
            raise click.ClickException(f"no conversion {conversion_id}")
        attempts = session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.conversion_id == conversion_id)
                                   .order_by(DeliveryAttempt.id)).all()
        record = session.get(AttributionRecord, conversion.order_id) if conversion.order_id else None
    click.echo(json.dumps({
        "status": conversion.status,
        "body": json.loads(conversion.body),
        "attempts": [{"at": a.attempted_at.isoformat(), "status_code": a.status_code, "error": a.error,
                      "excerpt": a.excerpt, "duration_ms": a.duration_ms} for a in attempts],
        "attribution": {"outcome": record.outcome, "method": record.method, "credits": record.credits,
                        "signals": record.signals} if record else None,
    }, indent=2))


@conversions.command("replay")
@click.argument("conversion_ids", nargs=-1)
@click.option("--failed", is_flag=True, help="Replay every failed conversion.")
@pass_context
def conversions_replay(obj: Context, conversion_ids: tuple[str, ...], failed: bool) -> None:
    """Send conversions again, same id and body: the named ones, or --failed."""
    if bool(conversion_ids) == failed:
        raise click.UsageError("name conversion ids or pass --failed (not both)")
    with transaction(obj.sessions) as session:
        replayed = outbox.replay(session, list(conversion_ids) or None, datetime.now(timezone.utc))
    missing = set(conversion_ids) - set(replayed)
    for conversion_id in replayed:
        click.echo(f"queued {conversion_id}")
    if missing:
        raise click.ClickException(f"no conversion {', '.join(sorted(missing))}")
    if not replayed:
        click.echo("nothing to replay")


@main.group()
def events() -> None:
    """Stored webhook deliveries."""


EVENT_STATUSES = ["pending", "handled", "rejected", "failed", "skipped"]


@events.command("list")
@click.option("--status", type=click.Choice(EVENT_STATUSES))
@click.option("--limit", default=50, show_default=True)
@pass_context
def events_list(obj: Context, status, limit: int) -> None:
    """Newest stored deliveries first; rejected and failed ones show their error."""
    with obj.sessions() as session:
        query = select(Event.id, Event.platform, Event.topic, Event.delivery_id, Event.status, Event.error,
                       Event.received_at)
        if status:
            query = query.where(Event.status == status)
        rows = session.execute(query.order_by(Event.id.desc()).limit(limit)).all()
    if not rows:
        click.echo("no events")
    for row in rows:
        click.echo(f"{row.id:>6}  {row.received_at:%Y-%m-%d %H:%M:%S}  {row.platform:<11} {row.topic:<18} "
                   f"{row.status:<9} {row.error or ''}")


@events.command("replay")
@click.argument("event_ids", nargs=-1, type=int)
@click.option("--failed", is_flag=True, help="Every event that failed (gave up after retries).")
@click.option("--rejected", is_flag=True, help="Every event that was rejected as malformed (after a fix).")
@click.option("--skipped", is_flag=True, help="Every event skipped because its store was not active.")
@pass_context
def events_replay(obj: Context, event_ids: tuple[int, ...], failed: bool, rejected: bool, skipped: bool) -> None:
    """Handle stored events again: the named ones, or those in the chosen states. Nothing is credited twice."""
    statuses = tuple(name for name, chosen in (("failed", failed), ("rejected", rejected), ("skipped", skipped))
                     if chosen)
    if bool(event_ids) == bool(statuses):
        raise click.UsageError("name event ids or choose --failed, --rejected or --skipped (not both)")
    with transaction(obj.sessions) as session:
        replayed = inbox.replay_events(session, list(event_ids) or None, statuses, datetime.now(timezone.utc))
    missing = set(event_ids) - set(replayed)
    click.echo(f"queued {len(replayed)} events" + (f": {', '.join(map(str, replayed))}" if replayed else ""))
    if missing:
        raise click.ClickException(f"no event {', '.join(map(str, sorted(missing)))}")


# -- reconciliation -------------------------------------------------------------------------------


@main.command()
@click.argument("store")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]),
              help="UTC time to read from (default: where the last reconciliation got to).")
@pass_context
@_fail_on_connector_errors
def reconcile(obj: Context, store: str, since: datetime | None) -> None:
    """Read STORE's orders updated since a time and queue those not seen in that state (webhooks get missed)."""
    from connector.intake.reconcile import reconcile_store

    with obj.sessions() as session:
        found = directory.find_store(session, store)
        store_id, domain = found.id, found.domain
    try:
        result = reconcile_store(obj.settings, obj.sessions, store_id, datetime.now(timezone.utc),
                                 since=since.replace(tzinfo=timezone.utc) if since else None)
    except PlatformError as exc:
        raise click.ClickException(f"{domain}: {exc}") from None
    click.echo(f"{domain}: {result}; `connector worker` handles them like webhooks")
