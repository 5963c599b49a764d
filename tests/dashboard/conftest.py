"""Fixtures of the dashboard tests: a simulator of their own and the page pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: The dashboard's simulator runs with scaled pacing, and the page's client is scaled to match.
RATE_SCALE = 50.0
APP_TIMEOUT = 60.0


def page_env(sim: Any, db_path: Path, rate_scale: float = RATE_SCALE) -> dict[str, str]:
    """The ``AXION_IBKR_*`` environment ``axion-ibkr dashboard`` gives Streamlit for ``sim``."""
    from axion_broker_ibkr.dashboard.factory import PACER_SCALE_ENV
    from axion_broker_ibkr.dashboard.launcher import sim_env

    env = sim_env({}, root_url=sim.root_url, fingerprint=sim.cert_fingerprint, fallback=False)
    env["AXION_IBKR_DATABASE_URL"] = f"sqlite:///{db_path}"
    if rate_scale != 1.0:
        env[PACER_SCALE_ENV] = str(rate_scale)
    return env


@pytest.fixture(scope="module")
def dash_sim() -> Iterator[Any]:
    from axion_broker_ibkr.dashboard.factory import reset_sessions
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=3, rate_scale=RATE_SCALE)
    server.start()
    try:
        yield server
    finally:
        reset_sessions()  # stop the page's keep-alive and stream before their simulator goes
        server.stop()


def _point_page_at(sim: Any, db_path: Path, monkeypatch: pytest.MonkeyPatch, rate_scale: float) -> None:
    import os

    from axion_broker_ibkr.userconfig import ENV_VAR as USER_CONFIG_FILE

    for name in list(os.environ):
        # The test's own user config file stays (tests/conftest.py): never the developer's file.
        if name.startswith("AXION_IBKR_") and name != USER_CONFIG_FILE:
            monkeypatch.delenv(name)
    for name, value in page_env(sim, db_path, rate_scale).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def page(dash_sim: Any, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The page's environment points at the module's simulator (sessions are cached per env)."""
    db = tmp_path_factory.getbasetemp() / "dashboard-orders.sqlite"
    _point_page_at(dash_sim, db, monkeypatch, RATE_SCALE)
    return dash_sim


@pytest.fixture
def page_on_fresh_sim(fresh_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The page pointed at a simulator of this test's own (fault injection)."""
    from axion_broker_ibkr.dashboard.factory import reset_sessions

    _point_page_at(fresh_sim, tmp_path / "orders.sqlite", monkeypatch, 1.0)  # conftest's pacing
    yield fresh_sim
    reset_sessions()
