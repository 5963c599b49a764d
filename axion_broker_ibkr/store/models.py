"""The plugin's tables, on its own declarative :class:`Base` (never the host's).

Column types, chosen once for SQLite and PostgreSQL alike:

* **Money and quantities** are ``Numeric(24, 8)`` read back as ``float``: PostgreSQL stores the
  decimal value exactly as written (sums in the host's reports do not drift by binary rounding),
  eight decimals cover every IBKR price increment (forex quotes to 5, crypto to 8) and fractional
  share quantities; 16 integer digits cover any net liquidation. The Python side stays ``float``
  because :class:`~axion_broker_ibkr.ops.journal.JournalEntry` and the wire models are ``float``.
* **Timestamps** are :class:`UTCDateTime`: ``timestamp with time zone`` on PostgreSQL; SQLite keeps
  no zone, so values are normalised to UTC on the way in and come back timezone-aware.
* **Payloads and transcripts** are :class:`sqlalchemy.JSON` (``json`` on PostgreSQL, text on SQLite).
* **conids** are ``BigInteger`` (IBKR conids already exceed 2**31 for some instruments).

The order log is append-and-update only: nothing in this package deletes an order-log row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Constraint names are predictable, so migrations can refer to them on both backends.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Alembic's version table of the plugin: the host's own ``alembic_version`` is never touched.
VERSION_TABLE = "ibkr_alembic_version"


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the only kind of timestamp stored)."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the order log stores timezone-aware UTC only")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Amount(TypeDecorator[float]):
    """Money, prices and quantities (see the module docstring), always read back as ``float``
    (SQLite's NUMERIC affinity would otherwise hand back ``1`` for ``1.0``)."""

    impl = Numeric(24, 8, asdecimal=False)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        return None if value is None else float(value)


class Base(DeclarativeBase):
    """Declarative base of the plugin's tables only."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        dt.datetime: UTCDateTime(),
        float: Amount(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class IbkrConnection(Base):
    """One gateway connection (mode + gateway + account): its current state and last account sync.

    Every change of state is also appended to :class:`IbkrConnectionEvent`.
    """

    __tablename__ = "ibkr_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[str | None] = mapped_column(String(64))
    account_type: Mapped[str | None] = mapped_column(String(32))  # paper | live
    status: Mapped[str] = mapped_column(String(32))  # connected | disconnected | authenticated ...
    mode: Mapped[str] = mapped_column(String(16))  # gateway | sim | oauth
    gateway_host: Mapped[str | None] = mapped_column(String(255))
    gateway_port: Mapped[int | None] = mapped_column(Integer)
    net_liquidation: Mapped[float | None]
    buying_power: Mapped[float | None]
    position_count: Mapped[int | None] = mapped_column(Integer)
    base_currency: Mapped[str | None] = mapped_column(String(8))
    last_sync_at: Mapped[dt.datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[dt.datetime | None]
    disconnected_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IbkrConnectionEvent(Base):
    """History of :class:`IbkrConnection`: each connect, disconnect, status change and account sync."""

    __tablename__ = "ibkr_connection_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("ibkr_connections.connection_id"), index=True
    )
    event: Mapped[str] = mapped_column(String(32))  # connect | disconnect | status | account_sync
    status: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class IbkrOrderLog(Base):
    """The write-ahead order log: one row per order, keyed by its cOID (``client_order_id``).

    The row is committed with status ``pending_submit`` before the order POST leaves (``awaiting_answer``
    while an IBKR question about it is held for the caller: no order at IBKR yet); the reply,
    streaming events and start-up reconciliation settle it afterwards. ``log_id`` is the host's
    name for the row's stable public id (HOST_CONTRACT §5); here it equals the cOID.
    """

    __tablename__ = "ibkr_order_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    log_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    parent_client_order_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("ibkr_order_log.client_order_id"), index=True
    )
    #: The first order of an IBKR question that expired before it was answered yes; this row is the
    #: same ticket placed again under its own cOID (ibkr_0005). Not a foreign key: the linked row is
    #: always written first, and a plain indexed column adds to both backends without a table rebuild.
    linked_client_order_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    mode: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    conid: Mapped[int] = mapped_column(BigInteger)
    symbol: Mapped[str] = mapped_column(String(64))
    sec_type: Mapped[str] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))
    order_type: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[float]
    filled_quantity: Mapped[float] = mapped_column(default=0.0)
    price: Mapped[float | None]
    aux_price: Mapped[float | None]
    avg_fill_price: Mapped[float | None]
    tif: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), index=True)
    ibkr_status: Mapped[str | None] = mapped_column(String(32))  # IBKR's own word (Submitted ...)
    exchange: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    transcript: Mapped[list[Any]] = mapped_column(default=list)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what reconciliation saw
    reconciled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IbkrOrderFill(Base):
    """One execution of a logged order (REST ``trades`` or ws ``str``), unique by ``execution_id``.

    Fills arrive more than once (back-fill after a reconnect, REST and stream); the unique
    execution id makes applying them idempotent, and the order's filled quantity is their sum.
    """

    __tablename__ = "ibkr_order_fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_order_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("ibkr_order_log.client_order_id"), index=True
    )
    order_id: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[float]
    price: Mapped[float]
    commission: Mapped[float | None]
    exchange: Mapped[str | None] = mapped_column(String(32))
    trade_time: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class IbkrOrderModification(Base):
    """One modification of a live order, recorded before its POST leaves and settled after it.

    ``client_order_id`` links it to the order's log row (``NULL`` when the order is not in the
    log, e.g. placed from TWS: the instruction is still recorded, by IBKR ``order_id``). The
    terms are the requested ones; ``previous`` holds the row's terms before it (what the row
    keeps when the modification is rejected, refused, not sent or lost). ``status``:
    ``pending_submit`` -> ``accepted`` | ``rejected`` | ``refused`` | ``not_sent`` | ``unknown_at_broker``
    (``awaiting_answer`` in between while IBKR's question about it is held for the caller).
    """

    __tablename__ = "ibkr_order_modifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("ibkr_order_log.client_order_id"), index=True
    )
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), index=True)
    order_type: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[float]
    price: Mapped[float | None]
    aux_price: Mapped[float | None]
    tif: Mapped[str | None] = mapped_column(String(16))
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    transcript: Mapped[list[Any]] = mapped_column(default=list)
    ibkr_status: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[dt.datetime | None]


class IbkrContractCache(Base):
    """The resolver's cache: an opaque key (sec type, symbol, details) -> conid and contract fields."""

    __tablename__ = "ibkr_contract_cache"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cache_key: Mapped[str] = mapped_column(String(512), unique=True)
    conid: Mapped[int] = mapped_column(BigInteger, index=True)
    sec_type: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str] = mapped_column(String(64), index=True)
    exchange: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(8))
    multiplier: Mapped[float | None]
    expiry: Mapped[str | None] = mapped_column(String(16))
    strike: Mapped[float | None]
    right: Mapped[str | None] = mapped_column(String(4))
    description: Mapped[str] = mapped_column(Text, default="")
    listing_exchange: Mapped[str | None] = mapped_column(String(32))
    local_symbol: Mapped[str | None] = mapped_column(String(64))
    trading_class: Mapped[str | None] = mapped_column(String(32))
    underlying_conid: Mapped[int | None] = mapped_column(BigInteger)
    maturity: Mapped[str | None] = mapped_column(String(16))
    coupon: Mapped[float | None]
    issuer: Mapped[str | None] = mapped_column(String(128))
    tick_size: Mapped[float | None]
    # The contract's own rules (IBKRContract's RULE_KEYS: increment rules, size increment, order
    # types, TIFs), as JSON; NULL when IBKR gave none (ibkr_0004).
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class IbkrPacing(Base):
    """One gateway's shared pacing budget (``pacing_store = "postgres"``; ibkr_0006): the
    :class:`~axion_broker_ibkr.drivers.pacing_stores.PacingState` as JSON text, epoch-second times."""

    __tablename__ = "ibkr_pacing"

    gateway: Mapped[str] = mapped_column(String(300), primary_key=True)  # host:port
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float | None] = mapped_column(Float, nullable=True)


#: Every table of the plugin (Alembic's ``include_object`` keeps to these).
PLUGIN_TABLES: frozenset[str] = frozenset(Base.metadata.tables)
