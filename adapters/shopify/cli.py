"""`connector shopify ...`: Shopify-only commands, added to the main command by the adapter."""

from __future__ import annotations

import click

from connector.cli.shared import Context, pass_context

from .app_config import app_toml


@click.group("shopify")
def shopify() -> None:
    """Shopify app configuration."""


@shopify.command("app-config")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write shopify.app.toml here instead of printing it.")
@click.option("--client-id", help="The app's client id (default: SHOPIFY_API_KEY).")
@pass_context
def app_config(obj: Context, output: str | None, client_id: str | None) -> None:
    """The app's shopify.app.toml (app URL, redirect URL, scopes, privacy webhooks), for `shopify app deploy`."""
    settings = obj.settings
    if not (client_id or settings.shopify_api_key):
        raise click.ClickException("set SHOPIFY_API_KEY (or pass --client-id): it is the app's client_id")
    text = app_toml(settings, client_id=client_id)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
