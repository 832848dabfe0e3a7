"""The `connector` command: one entry point for operators, one module per command group."""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from connector import registry
from connector.cli.backfill import backfill
from connector.cli.conversions import conversions
from connector.cli.db import db
from connector.cli.events import events
from connector.cli.influencers import influencers
from connector.cli.keys import keys
from connector.cli.privacy import privacy
from connector.cli.prune import prune
from connector.cli.run import reconcile, serve, worker
from connector.cli.shared import Context
from connector.cli.stores import stores
from connector.cli.workers import workers


class _Commands(click.Group):
    """The main group; the adapters' groups (`shopify ...`) and entry-point commands (`demo`) join on first use.

    Importing `connector.cli` then loads no adapter and no stand-in: only listing or running the commands does.
    """

    _extras_loaded = False

    def _load_extras(self) -> None:
        if self._extras_loaded:
            return
        self._extras_loaded = True
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
@click.version_option(package_name="influencer-connector", prog_name="connector")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Store orders in, signed influencer conversions out."""
    ctx.ensure_object(Context)


for _command in (serve, worker, workers, reconcile, db, stores, influencers, conversions, events, keys, privacy,
                 prune):
    main.add_command(_command)
main.add_command(backfill)
