"""Shared test fixtures: the CPAPI example payloads, the embedded simulator, CI-aware skipping."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.procs import SESSION_MARK, kill, marked_processes

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Every process the tests start inherits this mark, so that the session-end check can find any
# left behind (also after it was re-parented to init).
os.environ[SESSION_MARK] = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
LEFTOVER_GRACE = 5.0


def _stop_multiprocessing_helpers() -> None:
    """multiprocessing's resource tracker (started by the spawn-based pacing tests) lives until the
    pytest process exits; stop it now, as interpreter exit would, so the leftover check below sees
    only processes a test really left behind."""
    import multiprocessing.resource_tracker as tracker

    stop = getattr(tracker._resource_tracker, "_stop", None)
    if stop is not None:
        with contextlib.suppress(Exception):
            stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a process started by the tests outlives them (then kill it): the suite
    must leave no Streamlit server, simulator or browser behind."""
    mark = os.environ[SESSION_MARK]
    _stop_multiprocessing_helpers()
    deadline = time.monotonic() + LEFTOVER_GRACE
    left = marked_processes(mark, exclude=(os.getpid(),))
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = marked_processes(mark, exclude=(os.getpid(),))
    if not left:
        return
    lines = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"PROCESSES LEFT BEHIND BY THE TESTS (now killed):\n{lines}"
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    else:
        sys.stderr.write(message + "\n")
    kill([pid for pid, _ in left])
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def skip_or_fail(reason: str) -> None:
    """Skip locally when a system dependency is missing; in CI (CI=true) the same gap is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def load_fixture(name: str) -> Any:
    """Load ``fixtures/cpapi/<name>`` (``.json`` optional)."""
    if not name.endswith(".json"):
        name += ".json"
    return json.loads((FIXTURES / "cpapi" / name).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def user_config_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test reads and writes a user config file of its own, never the developer's."""
    from axion_broker_ibkr.userconfig import ENV_VAR

    path = tmp_path_factory.mktemp("user-config") / "config.toml"
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


@pytest.fixture(autouse=True)
def pacing_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's clients share a pacing budget (the default ``file`` store) of their own, in a
    directory of the test's (subprocesses inherit it through ``AXION_IBKR_PACING_DIR``)."""
    from axion_broker_ibkr.drivers import pacing_stores

    path = tmp_path_factory.mktemp("pacing")
    monkeypatch.setenv("AXION_IBKR_PACING_DIR", str(path))
    monkeypatch.delenv("AXION_IBKR_PACING_STORE", raising=False)
    # ... and in this process even when a test clears the AXION_IBKR_* environment
    monkeypatch.setattr(pacing_stores, "default_pacing_dir", lambda: path)
    return path


@pytest.fixture(autouse=True)
def no_reset_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders are not held around IBKR's 01:00 reset unless a test asks (``reset_hold_minutes``):
    the suite must not depend on the hour it runs at."""
    from axion_broker_ibkr.ops import resets

    monkeypatch.setattr(resets, "DEFAULT_HOLD_MINUTES", 0.0)


@pytest.fixture
def fixture_json() -> Any:
    return load_fixture


@pytest.fixture(scope="session")
def sim() -> Iterator[Any]:
    """One simulator for the whole session (HTTPS + WSS on a free loopback port).

    Tests that change global state (faults, logins, clock) use ``fresh_sim`` instead, or reset
    what they changed through the admin path.
    """
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=7)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_sim() -> Iterator[Any]:
    """A simulator of this test's own (fault injection, clock changes, logged-out starts)."""
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=11)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def redirect_default_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the order log's default SQLite file (HOST_CONTRACT §5, used when no URL is configured)
    at the test's tmp dir, with ``AXION_IBKR_DATABASE_URL`` cleared, so tests that drive the adapter
    never write into the real user data directory. Returns the path it now defaults to."""
    from axion_broker_ibkr.store import engine

    path = tmp_path / "user-data" / engine.SQLITE_FILENAME
    monkeypatch.delenv(engine.ENV_VAR, raising=False)
    monkeypatch.setattr(engine, "default_sqlite_path", lambda: path)
    return path
