"""Alembic history: one head, up from empty and down to empty, models == migrations, host-safe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, inspect, text

from axion_broker_ibkr.cli import main as cli_main
from axion_broker_ibkr.store import migrate
from axion_broker_ibkr.store.models import PLUGIN_TABLES, VERSION_TABLE, Base

EXPECTED_TABLES = {
    "ibkr_connections",
    "ibkr_connection_events",
    "ibkr_order_log",
    "ibkr_order_fills",
    "ibkr_order_modifications",
    "ibkr_contract_cache",
    "ibkr_pacing",
}


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts=migrate.migration_options())
        return list(compare_metadata(ctx, Base.metadata))


def test_single_head_and_every_revision_reachable() -> None:
    scripts = migrate.script_directory()
    assert len(scripts.get_heads()) == 1
    assert migrate.head_revision() == scripts.get_heads()[0]
    chain = list(scripts.walk_revisions("base", "heads"))
    assert chain[-1].down_revision is None
    assert PLUGIN_TABLES == EXPECTED_TABLES


def test_upgrade_from_empty_then_downgrade_to_empty(engine: Engine) -> None:
    assert inspect(engine).get_table_names() == []
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) == EXPECTED_TABLES | {VERSION_TABLE}
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
    migrate.downgrade(engine, "base")
    # Only the (now empty) version table of the plugin remains; never Alembic's default one.
    assert inspect(engine).get_table_names() == [VERSION_TABLE]
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 0
        assert migrate.current_revision(conn) is None
    migrate.upgrade(engine)  # and back up again: the downgrade left nothing in the way
    assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES


def test_a_database_at_the_first_revision_gains_the_modifications_table(engine: Engine) -> None:
    migrate.upgrade(engine, "ibkr_0001")
    assert "ibkr_order_modifications" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "ibkr_order_modifications" in inspect(engine).get_table_names()
    assert _diff(engine) == []
    migrate.downgrade(engine, "ibkr_0001")  # and the step back removes that table (and later ones)
    assert set(inspect(engine).get_table_names()) == (
        EXPECTED_TABLES - {"ibkr_order_modifications", "ibkr_pacing"}
    ) | {VERSION_TABLE}


def test_models_and_migrations_agree(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert _diff(engine) == []


def test_autogenerate_sees_the_models_when_tables_are_missing(engine: Engine) -> None:
    """The comparison above can fail: on an empty database it proposes every plugin table."""
    ops = _diff(engine)
    added = {op[1].name for op in ops if isinstance(op, tuple) and op[0] == "add_table"}
    assert added == EXPECTED_TABLES


def test_host_tables_are_left_alone(engine: Engine) -> None:
    """A host database: its own tables and its own ``alembic_version`` are never touched."""
    host = MetaData()
    Table("orders", host, Column("id", Integer, primary_key=True), Column("note", String(20)))
    Table("alembic_version", host, Column("version_num", String(32), primary_key=True))
    host.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('host_rev_42')"))

    with engine.begin() as conn:  # the host runs the plugin's history on its own connection
        migrate.upgrade(conn)
    assert _diff(engine) == []  # no drop of "orders" or "alembic_version" proposed

    migrate.downgrade(engine, "base")
    names = set(inspect(engine).get_table_names())
    assert {"orders", "alembic_version"} <= names
    assert not names & EXPECTED_TABLES
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "host_rev_42"


def test_cli_db_upgrade(db_url: str, engine: Engine) -> None:
    assert cli_main(["db", "upgrade", "--url", db_url]) == 0
    assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    assert cli_main(["db", "upgrade", "--url", db_url]) == 0  # idempotent
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()


def test_cli_db_upgrade_uses_env_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "from-env.sqlite3"
    monkeypatch.setenv("AXION_IBKR_DATABASE_URL", f"sqlite:///{target}")
    assert cli_main(["db", "upgrade"]) == 0
    assert target.exists()
    assert str(target) in capsys.readouterr().out


def test_cli_db_upgrade_rejects_a_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["db", "upgrade", "--url", "not a url"]) == 2
    assert "database_url" in capsys.readouterr().err
