"""Streaming tests never write into the real user data directory: the default SQLite file of the
order log (HOST_CONTRACT §5, used when no URL is configured) is redirected to the test's tmp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import redirect_default_database


@pytest.fixture(autouse=True)
def default_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The path the adapter's database defaults to in this test (env var cleared)."""
    return redirect_default_database(tmp_path, monkeypatch)
