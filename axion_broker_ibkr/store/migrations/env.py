"""Alembic environment of the plugin: its own version table, and only its own tables.

Run through :mod:`axion_broker_ibkr.store.migrate` (or ``axion-ibkr db upgrade``). A host that runs
the plugin's history against its own database passes its connection in
``config.attributes["connection"]``; otherwise ``config.attributes["url"]`` (or the
``sqlalchemy.url`` option) names the database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from axion_broker_ibkr.store.engine import make_engine
from axion_broker_ibkr.store.migrate import migration_options
from axion_broker_ibkr.store.models import Base

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        **migration_options(),  # the same options the models-match test compares with
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass attributes['connection'] or attributes['url']")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported by axion-broker-ibkr")
run_migrations_online()
