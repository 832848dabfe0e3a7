"""`connector --version` and `connector db current|history|downgrade`, and the one line a command gives on a
database that is not at the code's schema (instead of a traceback about a missing table)."""

from __future__ import annotations

from importlib.metadata import version

from connector import migrate


def test_version(cli):
    assert cli("--version").strip() == f"connector, version {version('influencer-connector')}"


def test_history_lists_every_migration_newest_first(cli):
    lines = cli("db", "history").splitlines()
    assert lines[0].startswith(migrate.head_revision())
    assert any(line.startswith("20261204_retention_indexes") and "retention" in line for line in lines)
    assert lines[-1].startswith("20261123_spine")


def test_current_downgrade_and_the_clear_line_on_a_database_behind(cli, settings):
    assert cli("db", "current").strip() == f"{migrate.head_revision()} (at head)"
    try:
        assert "database at -1" in cli("db", "downgrade", "--yes", "--", "-1")
        behind = cli("db", "current")
        assert "behind: this code expects" in behind and "connector db upgrade" in behind
        refused = cli("stores", "list", code=1)
        assert "is not at the schema this code expects" in refused and "run `connector db upgrade`" in refused
        assert "Traceback" not in refused
        assert "Aborted" in cli("db", "downgrade", "--", "-1", code=1)  # asks first; "no" keeps everything
    finally:
        migrate.upgrade(settings.database_url)
    assert "(at head)" in cli("db", "current")


def test_an_unreachable_database_is_one_line_too(cli, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    refused = cli("stores", "list", code=1)
    assert "the database cannot be reached" in refused and "Traceback" not in refused


def test_a_database_ahead_of_the_code_is_said_to_be_ahead(cli, settings):
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '29991231_from_the_future'"))
        said = cli("db", "current")
        assert "ahead of this code" in said and "deploy the newer code" in said
    finally:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": migrate.head_revision()})
        engine.dispose()
