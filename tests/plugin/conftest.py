"""Plugin tests never write into the real user data directory: the default SQLite file of the
order log (HOST_CONTRACT §5, used when no URL is configured) is redirected to the test's tmp dir."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def default_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The path the adapter's database defaults to in this test (env var cleared)."""
    from axion_broker_ibkr.store import engine

    path = tmp_path / "user-data" / engine.SQLITE_FILENAME
    monkeypatch.delenv(engine.ENV_VAR, raising=False)
    monkeypatch.setattr(engine, "default_sqlite_path", lambda: path)
    return path
