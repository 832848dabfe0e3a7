"""`connector db`: the database schema."""

from __future__ import annotations

import click

from connector.cli.shared import Context, pass_context


@click.group()
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
