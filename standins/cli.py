"""`connector demo`: joins the main command through the `connector.commands` entry point."""

from __future__ import annotations

import sys

import click


@click.command("demo")
@click.option("--keep", is_flag=True, help="Keep the temporary folder with the demo database.")
def demo(keep: bool) -> None:
    """A whole run on this machine: stand-in backend, app, worker, signed sample orders, verified conversions."""
    try:
        from standins.demo import run_demo
    except ImportError as exc:  # the stand-in Shopify needs graphql-core, which only the demo extra installs
        raise click.ClickException(f"the demo needs its extra: pip install -e '.[demo]' ({exc})") from None

    sys.exit(run_demo(keep=keep))
