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


@db.command("current")
@pass_context
def db_current(obj: Context) -> None:
    """The revision the database is at, and whether it is the one this code expects."""
    from sqlalchemy.exc import DBAPIError

    from connector.db import make_engine
    from connector.migrate import current_revisions, head_revision, history

    engine = make_engine(obj.settings.database_url)
    try:
        with engine.connect() as connection:
            current = current_revisions(connection)
    except DBAPIError as exc:
        raise click.ClickException(f"the database cannot be reached: {exc.orig or exc}") from None
    finally:
        engine.dispose()
    head, known = head_revision(), {revision for revision, _message in history()}
    if current == (head,):
        state = "at head"
    elif current and not set(current) <= known:
        state = f"ahead of this code, which knows up to {head}: deploy the newer code (or downgrade with it)"
    else:
        state = f"behind: this code expects {head} (run `connector db upgrade`)"
    click.echo(f"{', '.join(current) or 'no schema'} ({state})")


@db.command("history")
def db_history() -> None:
    """Every migration, newest first."""
    from connector.migrate import history

    for revision, message in history():
        click.echo(f"{revision:<26} {message}")


@db.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do it without asking (what a downgrade drops is gone).")
@pass_context
def db_downgrade(obj: Context, revision: str, yes: bool) -> None:
    """Take the schema down to REVISION (one from `db history`; `-- -1` for one step back): the columns and
    tables of the later migrations are dropped with what they hold."""
    from connector.migrate import downgrade

    if not yes:
        click.confirm(f"downgrade the database to {revision}? What later migrations added is dropped", abort=True)
    downgrade(obj.settings.database_url, revision)
    click.echo(f"database at {revision}")
