"""Where the database is, and engines configured for a write-ahead order log.

Resolution order of the URL (first that is set and not blank wins):

1. the ``AXION_IBKR_DATABASE_URL`` environment variable;
2. the host's config mapping, key ``database_url`` (HOST_CONTRACT §6);
3. SQLite in the user data directory (``platformdirs.user_data_dir("axion-ibkr")``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ..errors import ConfigError

log = logging.getLogger(__name__)

ENV_VAR = "AXION_IBKR_DATABASE_URL"
CONFIG_KEY = "database_url"
APP_NAME = "axion-ibkr"
SQLITE_FILENAME = "axion_ibkr.sqlite3"


def default_sqlite_path() -> Path:
    """The SQLite file of a trader without a host (in the platform's user data directory)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / SQLITE_FILENAME


def resolve_database_url(
    config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> URL:
    """The URL of the plugin's tables: env var, else ``config["database_url"]``, else user SQLite.

    Raises :class:`~axion_broker_ibkr.errors.ConfigError` naming the source when a given URL cannot
    be parsed.
    """
    env = os.environ if environ is None else environ
    candidates: list[tuple[str, Any]] = [(ENV_VAR, env.get(ENV_VAR))]
    if config is not None:
        candidates.append((CONFIG_KEY, config.get(CONFIG_KEY)))
    for source, raw in candidates:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        return parse_url(raw, source=source)
    return URL.create("sqlite", database=str(default_sqlite_path()))


def parse_url(raw: str | URL, *, source: str = CONFIG_KEY) -> URL:
    """Parse and check a database URL; errors name ``source`` and never echo a password."""
    if isinstance(raw, URL):
        url = raw
    else:
        if not isinstance(raw, str):
            raise ConfigError(source, f"expected a database URL string, got {type(raw).__name__}")
        try:
            url = make_url(raw.strip())
        except ArgumentError:
            raise ConfigError(source, "not a SQLAlchemy database URL (e.g. sqlite:///path.db)") from None
    try:
        url.get_dialect()
    except NoSuchModuleError:
        raise ConfigError(source, f"unknown database dialect {url.drivername!r}") from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        log.warning("database backend %s is not tested; SQLite and PostgreSQL are", url.get_backend_name())
    return url


def display_url(url: URL | str) -> str:
    """The URL for logs and messages, password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when a transaction begins (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets readers (the dashboard) run beside the order path; synchronous=FULL makes a
        # commit durable before record_pending returns; foreign keys enforce the bracket link.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a
    # read-then-write transaction (record_result, apply_trade) sees the latest row and cannot be
    # overtaken by another process between its SELECT and its UPDATE. WAL readers are not blocked.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: URL | str, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite: the parent directory is created and pragmas are set on every
    connection; PostgreSQL: connections are pinged before use (the gateway may run for days)."""
    url = parse_url(url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            parent = Path(url.database).expanduser().parent
            if parent == default_sqlite_path().parent:
                parent.mkdir(parents=True, exist_ok=True)  # the plugin's own data directory
            elif not parent.is_dir():
                # A typo in a given path must not create a database somewhere unexpected.
                raise ConfigError(
                    CONFIG_KEY, f"SQLite directory {parent} does not exist (create it first or fix the URL)"
                )
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if url.drivername == "postgresql" and importlib.util.find_spec("psycopg2") is None:
        # SQLAlchemy's default PostgreSQL driver is psycopg2; the [postgres] extra installs psycopg 3.
        url = url.set(drivername="postgresql+psycopg")
    try:
        return create_engine(url, **kwargs)
    except ImportError as exc:
        if url.get_backend_name() != "postgresql":
            raise
        raise ConfigError(
            CONFIG_KEY,
            f"PostgreSQL needs the psycopg driver ({exc.name or exc}): "
            "pip install 'axion-broker-ibkr[postgres]'",
        ) from None
