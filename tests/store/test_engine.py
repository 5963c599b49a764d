"""Where the database is: env var, else the host's config, else SQLite in the user data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.store import display_url, open_store, resolve_database_url
from axion_broker_ibkr.store.engine import ENV_VAR, default_sqlite_path
from axion_broker_ibkr.store.migrate import current_revision, head_revision


def test_env_var_wins_over_config() -> None:
    url = resolve_database_url(
        {"database_url": "sqlite:///from-config.db"}, environ={ENV_VAR: "sqlite:///from-env.db"}
    )
    assert url.database == "from-env.db"


def test_config_is_used_without_env_var() -> None:
    url = resolve_database_url(
        {"database_url": "postgresql+psycopg://axion:secret@db.local:5432/axion"}, environ={}
    )
    assert (url.get_backend_name(), url.host, url.database) == ("postgresql", "db.local", "axion")
    assert "secret" not in display_url(url)


@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_values_fall_through(blank: str) -> None:
    url = resolve_database_url({"database_url": blank}, environ={ENV_VAR: blank})
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(default_sqlite_path())


def test_default_is_sqlite_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    url = resolve_database_url(None, environ={})
    assert url.database == str(tmp_path / "xdg" / "axion-ibkr" / "axion_ibkr.sqlite3")


def test_first_use_creates_and_migrates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    path = tmp_path / "xdg" / "axion-ibkr" / "axion_ibkr.sqlite3"
    assert not path.exists()
    store = open_store()
    try:
        assert path.exists()
        assert "ibkr_order_log" in inspect(store.engine).get_table_names()
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("source", "value", "message"),
    [
        ("database_url", "not a url", "not a SQLAlchemy database URL"),
        ("database_url", "nosuchdb://x/y", "unknown database dialect"),
        ("database_url", 42, "expected a database URL string"),
        (ENV_VAR, "::::", "not a SQLAlchemy database URL"),
    ],
)
def test_bad_urls_name_their_source(source: str, value: object, message: str) -> None:
    environ = {ENV_VAR: str(value)} if source == ENV_VAR else {}
    config = {"database_url": value} if source == "database_url" else None
    with pytest.raises(ConfigError, match=message) as info:
        resolve_database_url(config, environ=environ)
    assert info.value.key == source
    assert isinstance(info.value, ValueError)


def test_concurrent_first_use_migrates_once(db_url: str) -> None:
    """Three processes opening a fresh database at once all end at head, without an error."""
    import subprocess
    import sys

    code = (
        "import sys; from axion_broker_ibkr.store import open_store; "
        "s = open_store(sys.argv[1]); s.close(); print('ok')"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    outcomes = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err.decode()[-800:] for _, err in outcomes]
    store = open_store(db_url, migrate=False)
    try:
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        store.close()
