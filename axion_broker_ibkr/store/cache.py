"""The resolver's contract cache in the database (:class:`SqlContractCache`).

Rows outlive the process, so a warm resolve costs no HTTP request after a restart. A contract
with an expiry (futures, options, warrants ...) is not served after its expiry day: the row's
``expires_at`` is the earlier of the caller's and the end of the expiry day in UTC (the same rule
as the resolver's, so 0DTE options stay cacheable on their last day). The few hours by which the
end of the UTC day can follow a venue's close do not risk a wrong order: IBKR refuses orders for
an expired conid, and a conid never names another contract.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from ..models import IBKRContract
from ..models.contracts import RULE_KEYS
from .models import IbkrContractCache, utcnow

log = logging.getLogger(__name__)

#: The contract fields stored as columns (the same names on IBKRContract and the table).
CONTRACT_FIELDS: tuple[str, ...] = (
    "conid",
    "sec_type",
    "symbol",
    "exchange",
    "currency",
    "multiplier",
    "expiry",
    "strike",
    "right",
    "description",
    "listing_exchange",
    "local_symbol",
    "trading_class",
    "underlying_conid",
    "maturity",
    "coupon",
    "issuer",
    "tick_size",
)


def contract_expiry(contract: IBKRContract) -> dt.datetime | None:
    """The end (next 00:00 UTC) of the contract's expiry day (``YYYYMMDD``; a bare ``YYYYMM``
    counts as the month's first day, to err early), or ``None`` for contracts that do not expire."""
    raw = (contract.expiry or "").strip()
    if not raw:
        return None
    try:
        if len(raw) >= 8:
            day = dt.datetime.strptime(raw[:8], "%Y%m%d")
        elif len(raw) == 6:
            day = dt.datetime.strptime(raw, "%Y%m")
        else:
            return None
    except ValueError:
        log.warning("contract %s: unreadable expiry %r; caching it without expiry", contract.conid, raw)
        return None
    return day.replace(tzinfo=dt.UTC) + dt.timedelta(days=1)


def effective_expiry(contract: IBKRContract, expires_at: dt.datetime | None) -> dt.datetime | None:
    """The earlier of the caller's ``expires_at`` and the contract's own expiry."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware (UTC)")
    own = contract_expiry(contract)
    candidates = [t for t in (expires_at, own) if t is not None]
    return min(candidates) if candidates else None


class SqlContractCache:
    """A :class:`~axion_broker_ibkr.ops.journal.ContractCache` on SQLAlchemy. Keys are opaque strings
    built by the resolver; expired rows are not served (and are removed on the next ``put``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def get(self, key: str) -> IBKRContract | None:
        now = utcnow()
        with self._sessions() as session:
            row = session.scalar(select(IbkrContractCache).where(IbkrContractCache.cache_key == key))
            if row is None:
                return None
            if row.expires_at is not None and row.expires_at <= now:
                return None
            values: dict[str, Any] = {name: getattr(row, name) for name in CONTRACT_FIELDS}
            rules = row.rules
        if isinstance(rules, dict):  # the contract's own rules, cached and expiring with it
            values.update({k: v for k, v in rules.items() if k in RULE_KEYS})
        values["conid"] = int(values["conid"])
        if values["underlying_conid"] is not None:
            values["underlying_conid"] = int(values["underlying_conid"])
        return IBKRContract(**values)

    def put(self, key: str, contract: IBKRContract, expires_at: dt.datetime | None = None) -> None:
        """Insert or replace the row of ``key`` (an upsert: concurrent resolvers do not collide)."""
        expiry = effective_expiry(contract, expires_at)
        now = utcnow()
        values: dict[str, Any] = {name: getattr(contract, name) for name in CONTRACT_FIELDS}
        host = contract.to_host()
        values["rules"] = {k: host[k] for k in RULE_KEYS} if contract.rules_source else None
        values.update(cache_key=key, fetched_at=now, expires_at=expiry)
        dialect = self.engine.dialect.name
        with self._sessions.begin() as session:
            session.execute(
                delete(IbkrContractCache).where(
                    IbkrContractCache.expires_at <= now, IbkrContractCache.cache_key != key
                )
            )
            if dialect in {"sqlite", "postgresql"}:
                insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
                stmt = insert(IbkrContractCache).values(**values)
                update = {k: stmt.excluded[k] for k in values if k != "cache_key"}
                session.execute(stmt.on_conflict_do_update(index_elements=["cache_key"], set_=update))
                return
            row = session.scalar(select(IbkrContractCache).where(IbkrContractCache.cache_key == key))
            if row is None:
                session.add(IbkrContractCache(**values))
            else:
                for name, value in values.items():
                    setattr(row, name, value)

    def clear(self) -> int:
        """Drop every cached contract (e.g. after IBKR re-keys a symbol); returns rows removed."""
        with self._sessions.begin() as session:
            result = session.execute(delete(IbkrContractCache))
            return int(getattr(result, "rowcount", 0) or 0)
