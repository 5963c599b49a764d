"""The persistence layer of axion-broker-ibkr (SQLAlchemy 2.0 + Alembic).

Imported on first use only (never by ``plugin.py`` or the package ``__init__``)::

    from axion_broker_ibkr.store import open_store
    store = open_store(config=host_cfg)   # URL: env, else config["database_url"], else user SQLite;
                                          # created and migrated on first use
    client = IBKRClient(cfg, journal=store.journal, cache=store.cache)
    store.reconcile(client)               # at start-up: settle rows a crash left pending
    stop = follow_stream(store.journal, streaming)            # (store.follow) keep rows current
    conn = store.connections(mode=client.mode, gateway_host=..., gateway_port=..., account_id=...)

A host that runs the plugin's migrations on its own connection calls
``axion_broker_ibkr.store.migrate.upgrade(connection)`` (version table ``ibkr_alembic_version``);
a trader without a host runs ``axion-ibkr db upgrade [--url URL]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from .cache import SqlContractCache
from .connections import ConnectionRecorder, connection_key
from .engine import display_url, make_engine, resolve_database_url
from .migrate import downgrade, ensure_schema, upgrade
from .models import Base
from .reconcile import Decision, OrderSource, reconcile, reconcile_with_async_client, reconcile_with_client
from .sql_journal import DuplicateOrderError, ModificationMismatchError, SqlOrderJournal, UnknownOrderError

__all__ = [
    "Base",
    "ConnectionRecorder",
    "Decision",
    "DuplicateOrderError",
    "ModificationMismatchError",
    "SqlContractCache",
    "SqlOrderJournal",
    "Store",
    "UnknownOrderError",
    "connection_key",
    "display_url",
    "downgrade",
    "make_engine",
    "open_store",
    "reconcile",
    "reconcile_with_async_client",
    "reconcile_with_client",
    "resolve_database_url",
    "upgrade",
]


@define(frozen=True)
class Store:
    """An engine with the plugin's tables at head, and the journal and cache over it."""

    engine: Engine
    journal: SqlOrderJournal
    cache: SqlContractCache

    def connections(self, **kwargs: Any) -> ConnectionRecorder:
        """A :class:`ConnectionRecorder` (``mode=``, ``gateway_host=``, ``gateway_port=``, ...)."""
        return ConnectionRecorder(self.engine, **kwargs)

    def reconcile(self, client: OrderSource) -> list[Decision]:
        """Settle the order log's unsettled rows against ``client`` (call it at start-up)."""
        return reconcile_with_client(self.journal, client)

    def close(self) -> None:
        self.engine.dispose()


def open_store(
    url: URL | str | None = None, *, config: Mapping[str, Any] | None = None, migrate: bool = True
) -> Store:
    """Open the plugin's database (``url``, else :func:`resolve_database_url`), creating and
    migrating it on first use unless ``migrate`` is false."""
    engine = make_engine(url if url is not None else resolve_database_url(config))
    if migrate:
        ensure_schema(engine)
    return Store(engine=engine, journal=SqlOrderJournal(engine), cache=SqlContractCache(engine))
