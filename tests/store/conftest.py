"""Fixtures of the persistence tests: every test runs on SQLite and, when
``AXION_TEST_PG_URL`` is set (``eval "$(.ci/postgres.sh)"``), on PostgreSQL too.

Without that variable the PostgreSQL half skips with the reason (and fails when ``CI=true``).
Each PostgreSQL test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from axion_broker_ibkr.store import SqlOrderJournal, Store, make_engine, open_store
from axion_broker_ibkr.store.memory import MemoryJournal
from tests.conftest import skip_or_fail

PG_ENV = "AXION_TEST_PG_URL"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_database(base_url: str) -> Iterator[str]:
    admin_url = make_url(base_url)
    name = f"ibkr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of ``backend`` ("sqlite" or "postgresql"), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ibkr.sqlite3'}"
        return
    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        skip_or_fail(f'{PG_ENV} is not set (start one with: eval "$(.ci/postgres.sh)")')
    yield from _pg_database(base)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in ``tmp_path``, or a fresh PostgreSQL database."""
    yield from _database_url(request.param, tmp_path)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the empty database (not migrated)."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """The plugin's tables at head, with the journal and cache over them."""
    s = open_store(db_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=["memory", *BACKENDS])
def any_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryJournal | SqlOrderJournal]:
    """An empty order log: the in-memory one, or the SQL one on each database backend (for tests
    that hold both to the same semantics)."""
    if request.param == "memory":
        yield MemoryJournal()
        return
    for url in _database_url(request.param, tmp_path):
        s = open_store(url)
        try:
            yield s.journal
        finally:
            s.close()
