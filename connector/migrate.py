"""Running the Alembic migrations from code (connector db upgrade, the demo, the tests)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import migrations


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The revision the code expects the database at (the migrations shipped with it)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revisions the database says it is at (none for an unmigrated one)."""
    return tuple(MigrationContext.configure(connection).get_current_heads())


def history() -> list[tuple[str, str]]:
    """Every revision, newest first: (revision, the first line of its message)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [(rev.revision, (rev.doc or "").strip().splitlines()[0] if rev.doc else "") for rev in script.walk_revisions()]


def schema_problem(connection: Connection) -> str | None:
    """Why the database is not at the schema this code expects, said for an operator; None when it is."""
    current = current_revisions(connection)
    if current == (head_revision(),):
        return None
    found = ", ".join(current) if current else "no schema at all"
    return f"the database is not at the schema this code expects (found {found}, expected {head_revision()}): " \
           "run `connector db upgrade`"
