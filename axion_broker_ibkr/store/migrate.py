"""Run the plugin's Alembic history: against a URL (standalone trader) or a host's connection.

The scripts ship inside the package (``axion_broker_ibkr/store/migrations``); no ``alembic.ini``
is needed. The version table is ``ibkr_alembic_version``, so the host's own history is untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL

from .engine import display_url, parse_url
from .models import PLUGIN_TABLES, VERSION_TABLE

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Seconds a process waits for another one that is migrating the same database.
MIGRATION_WAIT = 30.0
#: Alembic's ``context`` / ``op`` are module-level proxies: one migration at a time per process.
_MIGRATION_LOCK = threading.RLock()


def alembic_config(target: URL | str | Connection | None = None) -> Config:
    """An Alembic :class:`Config` for the plugin's history, bound to a URL or an open connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if isinstance(target, Connection):
        cfg.attributes["connection"] = target
    elif target is not None:
        cfg.attributes["url"] = parse_url(target)
    return cfg


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The single head of the plugin's history (raises if the history has branched)."""
    head = script_directory().get_current_head()
    if head is None:
        raise RuntimeError("the plugin's migration history is empty")
    return head


def upgrade(target: URL | str | Connection | Engine, revision: str = "head") -> None:
    """Migrate the plugin's tables to ``revision`` (default: head).

    ``target`` is a URL, an :class:`Engine`, or a host's open :class:`Connection` (the host then
    commits; the plugin's history runs inside the host's transaction).
    """
    with _MIGRATION_LOCK:
        if isinstance(target, Engine):
            with target.begin() as conn:
                command.upgrade(alembic_config(conn), revision)
            return
        if not isinstance(target, Connection):
            log.info("migrating %s to %s", display_url(target), revision)
        command.upgrade(alembic_config(target), revision)


def downgrade(target: URL | str | Connection | Engine, revision: str = "base") -> None:
    """Undo the plugin's migrations down to ``revision`` (default: base, no plugin tables left)."""
    with _MIGRATION_LOCK:
        if isinstance(target, Engine):
            with target.begin() as conn:
                command.downgrade(alembic_config(conn), revision)
            return
        command.downgrade(alembic_config(target), revision)


def current_revision(conn: Connection) -> str | None:
    """The revision recorded in ``ibkr_alembic_version`` (``None`` for a database never migrated)."""
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def ensure_schema(engine: Engine) -> None:
    """Create or migrate the plugin's tables when they are not at head (first use, or an upgrade).

    Two processes starting together on a fresh database may both try; the one that loses the race
    finds the database at head afterwards and carries on.
    """
    head = head_revision()
    with engine.connect() as conn:
        current = current_revision(conn)
    if current == head:
        return
    log.info("plugin database at %s, migrating to %s", current or "empty", head)
    try:
        upgrade(engine)
    except Exception:
        # Lost a race with another process (SQLite DDL is not one transaction): wait for it.
        deadline = time.monotonic() + MIGRATION_WAIT
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if current_revision(conn) == head:
                    log.info("another process migrated the plugin database meanwhile")
                    return
            time.sleep(0.1)
        raise


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Reflect only the plugin's tables: the host's tables are not ours to compare or drop."""
    if type_ == "table":
        return name in PLUGIN_TABLES
    return True


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Compare only the plugin's tables (and what belongs to them)."""
    if type_ == "table":
        return name in PLUGIN_TABLES
    return True


def migration_options() -> dict[str, Any]:
    """``MigrationContext`` options that match the environment (for compare / autogenerate)."""
    return {
        "version_table": VERSION_TABLE,
        "include_name": include_name,
        "include_object": include_object,
        "compare_type": True,
    }
