"""`connector influencers`: influencers and their promo codes, by hand."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from connector.campaigns import directory
from connector.campaigns import influencers as campaigns
from connector.campaigns.codes import sync_codes
from connector.cli.shared import TIME, Context, fail_on_connector_errors, lines_wanted, pass_context, progress
from connector.core.platform import FIXED_AMOUNT, PERCENTAGE
from connector.db import transaction
from connector.errors import PlatformError
from connector.models import Influencer


@click.group()
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
@click.option("--starts-at", type=TIME, help="When the code starts working, e.g. 2026-11-01T00:00:00Z.")
@click.option("--ends-at", type=TIME, help="When it stops.")
@click.option("--usage-limit", type=click.IntRange(min=1), help="Uses of the code in all.")
@click.option("--once-per-customer", is_flag=True)
@click.option("--campaign", "campaign_id")
@click.option("--email", help="Kept only as a SHA-256 hash, for self-referral checks.")
@click.option("--customer-id", help="The influencer's own customer id in the store, for self-referral checks.")
@click.option("--no-setup", is_flag=True, help="Do not create the promo code in the store.")
@pass_context
@fail_on_connector_errors
def influencers_add(obj: Context, store: str, tracking_id: str, code, discount, starts_at, ends_at, usage_limit,
                    once_per_customer, campaign_id, email, customer_id, no_setup) -> None:
    """Add an influencer to STORE (its shop domain or URL, as it was added).

    Without --no-setup, a --code with a --discount is created in the store now (the worker retries it if the
    store cannot be reached).
    """
    if code and not no_setup and not discount:
        raise click.ClickException("say what the code gives with --discount (15% or 10.00), or use --no-setup "
                                   "for a code that already exists in the store")
    now = datetime.now(timezone.utc)
    try:
        terms = None if no_setup else _discount(discount, starts_at, ends_at, usage_limit, once_per_customer)
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
@fail_on_connector_errors
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
@click.option("--json", "as_json", is_flag=True)
@pass_context
@fail_on_connector_errors
def influencers_list(obj: Context, store: str, as_json: bool) -> None:
    """The influencers of STORE, with their codes' state in the store."""
    with obj.sessions() as session:
        found = directory.find_store(session, store)
        rows = directory.influencers_of(session, found.id)
    listing = [{"tracking_id": i.tracking_id, "promo_code": i.promo_code, "code_status": i.code_status,
                "code_error": i.code_error, "campaign_id": i.campaign_id, "active": i.active} for i in rows]
    if not lines_wanted(listing, as_json, "no influencers"):
        return
    for i in rows:
        click.echo(f"{i.tracking_id:<24} code {i.promo_code or '-':<16} {i.code_status:<9} campaign "
                   f"{i.campaign_id or '-':<16}{'' if i.active else ' (removed)'}"
                   + (f"  {i.code_error}" if i.code_error else ""))


@influencers.command("sync")
@click.argument("store")
@pass_context
@fail_on_connector_errors
def influencers_sync(obj: Context, store: str) -> None:
    """Create and remove STORE's waiting promo codes now, as the worker would (a bulk registration, say)."""
    with obj.sessions() as session:
        found = directory.find_store(session, store)
        store_id, domain = found.id, found.domain
    try:
        with progress(f"codes in {domain}") as advance:
            tally = sync_codes(obj.settings, obj.sessions, store_id, datetime.now(timezone.utc), progress=advance)
    except PlatformError as exc:
        raise click.ClickException(f"{domain}: {exc}") from None
    click.echo(f"{domain}: {tally}")
