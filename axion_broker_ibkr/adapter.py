"""multi_broker's dict-based ``BrokerAdapter`` (HOST_CONTRACT §4) over :class:`AsyncIBKRClient`.

Every result dict carries exactly the keys the host reads (plus ``mode`` and a few extras). Order
statuses are honest: an order IBKR holds as ``PreSubmitted``/``Submitted`` is ``open``; a refused
order is ``rejected`` with IBKR's message; an order whose fate is unknown after an ambiguous
failure is ``pending`` (it was not re-sent) with a message saying so — never ``filled``.

The order log lives in the plugin's database (HOST_CONTRACT §5): ``AXION_IBKR_DATABASE_URL``, else
the host's ``database_url``, else SQLite in the user data directory, created and migrated on first
use (``connect()``). ``connect()`` settles rows a crash left pending (reconciliation) and records the
connection, its status changes and the account sync in ``ibkr_connections``. A database that cannot
be opened makes ``connect()`` raise :class:`StoreUnavailableError`: orders are never logged in
memory only, unless asked for explicitly with ``database_url="memory"`` (tests, throw-away use) or
an injected ``journal``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import models as m
from .client import AsyncIBKRClient
from .config import IBKRConfig
from .drivers.pacing import Pacer
from .errors import (
    GatewayError,
    IBKRError,
    OrderRejectedError,
    OrderStateUnknownError,
    QuestionRefusedError,
)
from .errors import StoreUnavailableError as StoreUnavailableError  # re-exported
from .gateway import AsyncIBKRGateway
from .lifecycle import MEMORY_DATABASE as MEMORY_DATABASE  # re-exported
from .lifecycle import (
    OrderLog,
    astart_session,
    attach,
    follow_order_stream,
    open_order_log,
    start_order_stream,
    unhealthy_reason,
)
from .lifecycle import open_order_store as open_order_store  # re-exported
from .masking import mask_text
from .models.orders import host_number
from .ops.journal import ContractCache, OrderJournal
from .resolver import AsyncContractResolver

if TYPE_CHECKING:
    from .store import Store
    from .store.connections import ConnectionRecorder
    from .streaming import IBKRStreaming

log = logging.getLogger(__name__)

SUPPORTED_ASSETS: tuple[str, ...] = ("stock", "etf", "option", "options", "forex", "futures", "bond", "bonds")
#: asset class of a position (IBKR) -> the host's asset type.
_ASSET_CLASS = {
    "STK": "stock",
    "OPT": "option",
    "CASH": "forex",
    "FUT": "futures",
    "BOND": "bond",
    "FOP": "option",
}
#: Contract details the host may put on an order dict (options: option_type/strike/expiration).
_ORDER_DETAILS = {"expiration": "expiry", "expiry": "expiry", "strike": "strike", "option_type": "right",
                  "right": "right", "exchange": "exchange", "currency": "currency", "issuer": "issuer",
                  "maturity": "maturity"}  # fmt: skip


def _position_figures(p: m.Position) -> dict[str, float | None]:
    """Market value, cost basis, unrealised P&L and entry price of one position, in the position's
    currency, such that ``market_value - cost_basis == unrealized_pnl`` for every asset class.

    What IBKR's ``/portfolio/{acct}/positions`` fields mean (REFERENCE.md §2):

    * ``position``: shares (STK), contracts (OPT/FOP/FUT), base-currency units (CASH), **face value** (BOND).
    * ``mktPrice`` / ``avgPrice``: the price as quoted, per unit without the multiplier: per share, per
      option share (premium), per future point, per unit of the base currency, and for bonds in
      **percent of face** (98.35 means 98.35 % of par).
    * ``avgCost``: ``avgPrice`` times the multiplier (per contract for OPT/FUT; for bonds the same
      percent figure as ``avgPrice``), so ``avgCost * position`` is the cost only where the price is
      per unit of ``position`` (STK, CASH, OPT/FUT with the multiplier): not for bonds (off by 100x).
    * ``mktValue``: ``position * mktPrice * multiplier`` (bonds: ``/ 100``). For futures the readings
      differ: the notional in TWS's portfolio view, the variation-margin P&L where it is settled to
      cash daily (this project's simulator) -- so for futures it is not read; the notional is
      computed from ``mktPrice`` instead (tolerant of both readings).
    * ``unrealizedPnl``: ``(mktPrice - avgPrice) * position * multiplier`` (bonds ``/ 100``): IBKR's
      figure is kept as the P&L, and the cost basis is what makes the figures add up.
    """
    qty = p.position or 0.0
    kind = (p.asset_class or "").upper()
    factor = (p.multiplier or 1.0) if kind in ("OPT", "FOP", "FUT") else 1.0
    if kind == "BOND":
        factor = 0.01  # prices are percent of face; ``position`` is the face value
    value: float | None = p.mkt_value
    if kind == "FUT" or value is None:
        value = None if p.mkt_price is None else qty * p.mkt_price * factor
    pnl = p.unrealized_pnl
    if pnl is None and value is not None and p.avg_price is not None:
        pnl = value - qty * p.avg_price * factor
    cost = None if value is None or pnl is None else value - pnl
    return {"market_value": value, "cost_basis": cost, "unrealized_pnl": pnl, "avg_entry_price": p.avg_price,
            "avg_price": p.avg_price, "market_price": p.mkt_price}  # fmt: skip


def position_dict(p: m.Position, mode: str) -> dict[str, Any]:
    """One position as the host's aggregator reads it (HOST_CONTRACT §4).

    ``name`` is the contract in full (``naming.describe_row``: ``AAPL 2027-01-15 185 P``, ``ES Dec
    2026 (ESZ6)``, ``T 4.25% 2034-11-15 (...)``). ``symbol`` is what the host groups positions by
    across brokers, so it must not collide: stocks and ETFs keep their plain ticker (``AAPL``, as
    other brokers report it); every other asset class uses ``name`` -- an AAPL option is not
    ``AAPL`` and a Treasury (IBKR's ticker ``T``) is not AT&T's ``T``.
    """
    from .naming import describe_row

    kind = (p.asset_class or "").upper()
    ticker = p.ticker or (p.contract_desc or "").split(" ")[0] or str(p.conid)
    name = describe_row(kind, ticker, p.contract_desc, expiry=p.expiry, strike=p.strike, right=p.put_or_call,
                        multiplier=p.multiplier, currency=p.currency, conid=p.conid)  # fmt: skip
    name = name or p.contract_desc or ticker
    figures = _position_figures(p)
    qty = p.position or 0.0
    return {
        "symbol": ticker if kind in ("STK", "") else name,
        "name": name,
        "qty": host_number(qty),
        # The host's aggregator float()s these: numbers always (0.0 when unknown, listed in ``unknown``).
        **{key: host_number(value) for key, value in figures.items()},
        "unknown": sorted(key for key, value in figures.items() if value is None),
        "asset_type": _ASSET_CLASS.get(kind, kind.lower()),
        "sec_type": kind or None,
        "currency": p.currency,
        "conid": p.conid,
        "mode": mode,
    }


def _amount(summary: Mapping[str, m.SummaryValue], key: str) -> float | None:
    value = summary.get(key)
    return None if value is None else value.amount


class IBKRAdapter:
    """Connected on demand: :meth:`connect` runs the session lifecycle (:mod:`axion_broker_ibkr.lifecycle`):
    opens the order log, runs the gateway start-up sequence and the keep-alive, reconciles what a
    crash left pending, and follows the order stream when one can be had.

    ``journal``/``cache`` given: used as they are (no database is opened). Otherwise the database
    is opened on :meth:`connect` (or on the first order), ``database_url="memory"`` excepted.
    ``follow_stream``: keep the order log current from an order stream (``sor``) on this adapter's
    client after :meth:`connect` (default: when the client talks to a real socket, i.e. no test
    ``transport``); without a stream, rows are settled by the next reconciliation, as before.
    """

    def __init__(
        self,
        config: IBKRConfig,
        *,
        journal: OrderJournal | None = None,
        cache: ContractCache | None = None,
        pacer: Pacer | None = None,
        transport: Any = None,
        follow_stream: bool | None = None,
    ) -> None:
        self.config = config
        self._recorder: ConnectionRecorder | None = None
        self._unfollow: list[Callable[[], None]] = []
        self._status_listener: Callable[[], None] | None = None
        self._store_lock = asyncio.Lock()
        self._stream: IBKRStreaming | None = None
        self.follow_stream = transport is None if follow_stream is None else follow_stream
        #: The database is the adapter's to open (no journal injected, no in-memory opt-out).
        self.uses_store = journal is None and config.database_url != MEMORY_DATABASE
        #: The order log: memory or injected now; the database once :meth:`open_store` opened it.
        self._order_log: OrderLog | None = None
        if not self.uses_store:
            self._order_log = open_order_log(config, journal=journal, cache=cache, who="IBKR adapter")
        self.client = AsyncIBKRClient(
            config,
            journal=None if self._order_log is None else self._order_log.journal,
            cache=cache,
            pacer=pacer,
            transport=transport,
        )
        self.gateway = AsyncIBKRGateway(self.client)
        self.resolver = AsyncContractResolver(self.client, cache=cache)
        self.last_error: str = ""
        self._connected = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> IBKRAdapter:
        """From the host's config mapping (HOST_CONTRACT §6). The order log and the contract cache
        live in the plugin's database, opened on :meth:`connect`."""
        return cls(IBKRConfig.from_mapping(config))

    @property
    def store(self) -> Store | None:
        """The plugin's database once opened (``None`` before :meth:`connect`, or when a journal was
        injected / ``database_url="memory"``)."""
        return None if self._order_log is None else self._order_log.store

    @property
    def order_stream(self) -> IBKRStreaming | None:
        """The order stream :meth:`connect` started (``None``: none could be had, or not asked)."""
        return self._stream

    async def open_store(self) -> Store | None:
        """Open (once) the plugin's database and hand its journal and cache to the client and the
        resolver. Raises :class:`StoreUnavailableError` naming the database when it cannot (and
        the client then refuses every order until it can)."""
        if not self.uses_store:
            return None
        async with self._store_lock:
            if self._order_log is None or self._order_log.failure is not None:
                order_log = await asyncio.to_thread(open_order_log, self.config, who="IBKR adapter")
                self._order_log = order_log
                attach(order_log, self.client, self.resolver)
            if self._order_log.failure is not None:
                raise self._order_log.failure
        return self._order_log.store

    # ----------------------------------------------------------------------------- protocol

    @property
    def is_connected(self) -> bool:
        return self._connected

    @property
    def supported_assets(self) -> list[str]:
        return list(SUPPORTED_ASSETS)

    @property
    def mode(self) -> str:
        return self.client.mode

    async def connect(self) -> bool:
        """The session lifecycle: open the order log (raises :class:`StoreUnavailableError` when it
        cannot), start the gateway session and keep-alive, settle pending rows, record the
        connection, then follow the order stream (when one can be had)."""
        await self.open_store()
        assert self._order_log is not None
        if self._status_listener is not None:
            self._status_listener()
            self._status_listener = None
        started = await astart_session(
            self.config,
            self.client,
            self.gateway,
            order_log=self._order_log,
            resolver=self.resolver,
            require_log=True,
            record=True,
        )
        status = started.status
        self._connected = status.healthy
        self.last_error = "" if status.healthy else unhealthy_reason(status)
        self._recorder = started.recorder
        self._status_listener = started.unlisten
        if status.healthy and self.follow_stream and self._stream is None:
            opened = await start_order_stream(
                self.client, self._order_log, connect_within=max(10.0, self.config.connect_timeout)
            )
            if opened is not None:
                self._stream, unfollow = opened
                self._unfollow.append(unfollow)
        return self._connected

    async def disconnect(self) -> None:
        for stop in self._unfollow:
            stop()
        self._unfollow.clear()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                await stream.stop()
            except Exception:
                log.exception("stopping the order stream failed")
        if self._status_listener is not None:
            self._status_listener()
            self._status_listener = None
        await self.gateway.stop()
        await self.client.aclose()
        was_connected, self._connected = self._connected, False
        recorder, self._recorder = self._recorder, None
        if recorder is not None and was_connected:
            try:
                await asyncio.to_thread(recorder.disconnected, reason="disconnect requested")
            except Exception:
                log.exception("could not record the IBKR disconnect")
        if self.uses_store and self._order_log is not None:
            self._order_log.close()
            self._order_log = None

    async def get_account(self) -> dict[str, Any]:
        account_id = await self._account()
        summary = await self.client.account_summary(account_id)
        ledger = await self.client.ledger(account_id)
        base = ledger.get("BASE")
        currency = (
            base.currency if base and base.currency and base.currency != "BASE" else None
        ) or _currency(summary)
        cash = _amount(summary, "totalcashvalue")
        if cash is None and base is not None:
            cash = base.cashbalance
        equity = _amount(summary, "netliquidation")
        if equity is None and base is not None:
            equity = base.netliquidationvalue
        buying_power = _amount(summary, "buyingpower")
        available = _amount(summary, "availablefunds")
        figures = {"cash": cash, "equity": equity, "buying_power": buying_power, "available_funds": available}
        # The host float()s these: numbers always (0.0 when IBKR reported none, listed in ``unknown``).
        return {
            "account_id": account_id,
            "currency": currency,
            **{key: host_number(value) for key, value in figures.items()},
            "unknown": sorted(key for key, value in figures.items() if value is None),
            "mode": self.client.mode,
        }

    async def get_positions(self) -> list[dict[str, Any]]:
        rows = await self.client.positions(await self._account())
        return [position_dict(p, self.client.mode) for p in rows]

    async def place_order(self, order: dict[str, Any]) -> dict[str, Any]:
        coid = order.get("client_order_id")
        try:
            await self.open_store()
        except StoreUnavailableError as exc:
            return self._result(coid, "rejected", f"not sent: {exc}")
        head = _group_head(order)  # a group's contract is its entry's (an OCO's: its first order's)
        try:
            contract = await self.resolve(
                str(head.get("symbol", "")), str(head.get("asset_type") or "stock"), _order_details(head)
            )
            # Never ``hold_questions``: the host's execute has no one to ask, so a question the policy
            # does not answer yes is declined at once (row ``declined``), as below.
            result = await self.client.place_order(order, contract)
        except OrderStateUnknownError as exc:
            return self._result(exc.client_order_id, "pending", f"state unknown, not re-sent: {exc}")
        except QuestionRefusedError as exc:
            # Not placed: IBKR's question was not answered yes. The host's word is ``rejected``
            # (its OrderStatus has no other for "not placed"); the order log says ``declined``.
            declined = self._result(
                exc.client_order_id or coid, "rejected", exc.message, transcript=exc.transcript
            )
            return {**declined, "declined": True, "question_ids": list(exc.message_ids)}
        except OrderRejectedError as exc:
            return self._result(
                exc.client_order_id or coid, "rejected", exc.message, transcript=exc.transcript
            )
        except (IBKRError, ValueError) as exc:
            # Not sent: bad input, unknown symbol, live account without opt-in, gateway refused.
            return self._result(coid, "rejected", mask_text(str(exc)))
        return result.to_host()

    async def cancel_order(self, order_id: str) -> bool:
        try:
            ack = await self.client.cancel_order(order_id)
        except (OrderRejectedError, GatewayError, ValueError) as exc:
            log.warning("cancel of order %s failed: %s", order_id, mask_text(str(exc)))
            return False
        # An acknowledgement, not a final state: the order is pending cancel until sor/status says so.
        return bool(ack.msg) or ack.order_id is not None

    async def get_quote(self, symbol: str) -> dict[str, Any]:
        """A snapshot quote for ``symbol`` with HOST_CONTRACT §4's keys (``symbol``, ``bid``, ``ask``,
        ``last``, ``volume``, ``timestamp``) plus ``conid``, ``sec_type``, ``requested_symbol`` and
        the snapshot's flags.

        The host passes a bare symbol (no asset type), so it is read by its shape only:

        * three upper-case letters, a dot, three upper-case letters (``EUR.USD``) -> a forex pair
          (CASH on IDEALPRO). IBKR lists each pair in one orientation; ``USD.EUR`` resolves to the
          listed ``EUR.USD`` and the quote is that pair's, **not inverted**: ``symbol`` is then
          ``EUR.USD`` (``requested_symbol`` keeps ``USD.EUR``), so a price is never shown under the
          wrong pair.
        * anything else -> a stock (``AAPL``, ``BRK.B``, ``eur.usd``).
        """
        asset_type = quote_asset_type(symbol)
        wanted = symbol.strip() if asset_type == "forex" else symbol
        # A quote reads no contract rules: not fetched (two paced requests); an order fetches them.
        contract = await self.resolver.resolve(wanted, asset_type, {}, rules=False)
        quotes = await self.client.snapshot([contract.conid])
        q = quotes[0]
        stamp = (
            dt.datetime.fromtimestamp(q.updated / 1000, tz=dt.UTC) if q.updated else dt.datetime.now(dt.UTC)
        )
        return {
            "symbol": contract.symbol,
            "bid": q.bid,
            "ask": q.ask,
            "last": q.last,
            "volume": q.volume,
            "timestamp": stamp.isoformat(),
            "conid": contract.conid,
            "sec_type": contract.sec_type,
            "requested_symbol": symbol,
            "last_is_close": q.last_is_close,
            "halted": q.halted,
            "missing_fields": list(q.missing_fields),
            "mode": self.client.mode,
        }

    # ----------------------------------------------------------------------------- extras

    def follow(self, stream: Any) -> Callable[[], None]:
        """Keep the order log current from ``stream`` (``sor`` order states, ``str`` executions);
        a host that runs its own :class:`~axion_broker_ibkr.streaming.IBKRStreaming` on
        :attr:`client` calls this after :meth:`connect`. Returns a function that stops following
        (:meth:`disconnect` stops it too). No-op without the database."""
        if self._order_log is None or self._order_log.store is None:
            return lambda: None
        stop = follow_order_stream(self._order_log, stream)
        self._unfollow.append(stop)
        return stop

    def stream(self, **kwargs: Any) -> IBKRStreaming:
        """An :class:`~axion_broker_ibkr.streaming.IBKRStreaming` on this adapter's client whose
        order and trade events keep the order log current (call after :meth:`connect`; the caller
        starts and stops it)."""
        from .streaming import IBKRStreaming

        streaming = IBKRStreaming(self.client, **kwargs)
        self.follow(streaming)
        return streaming

    async def resolve(
        self, symbol: str, asset_type: str, details: Mapping[str, Any] | None = None
    ) -> m.IBKRContract:
        return await self.resolver.resolve(symbol, asset_type, details or {})

    async def _account(self) -> str:
        if self.client.account_id is None:
            await self.client.accounts()
        account = self.client.account_id
        if account is None:
            raise GatewayError("the gateway reports no account")
        return account

    def _result(
        self, coid: Any, status: str, message: str, *, transcript: list[Any] | None = None
    ) -> dict[str, Any]:
        return {
            "order_id": None,
            "client_order_id": None if coid is None else str(coid),
            "status": status,
            "fill_price": 0.0,  # nothing filled: numbers the host can float(), not None
            "fill_qty": 0.0,
            "fee": 0.0,
            "fill_price_known": False,
            "fee_known": False,
            "message": message,
            "mode": self.client.mode,
            "transcript": list(transcript or []),
        }


def _currency(summary: Mapping[str, m.SummaryValue]) -> str | None:
    for key in ("netliquidation", "totalcashvalue"):
        value = summary.get(key)
        if value is not None and value.currency:
            return value.currency
    return None


def _group_head(order: Mapping[str, Any]) -> Mapping[str, Any]:
    """The order dict that names a group's contract: the order itself, or an OCO's first order."""
    members = order.get("oco")
    if isinstance(members, list) and members and isinstance(members[0], Mapping):
        return members[0]
    return order


def _order_details(order: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for key, target in _ORDER_DETAILS.items():
        value = order.get(key)
        if value is not None and value != "":
            details[target] = value
    return details


_FOREX_PAIR = re.compile(r"[A-Z]{3}\.[A-Z]{3}")


def quote_asset_type(symbol: str) -> str:
    """How :meth:`IBKRAdapter.get_quote` reads a bare symbol: ``"forex"`` for a dotted pair of
    upper-case ISO currency codes (``EUR.USD``), else ``"stock"``."""
    return "forex" if _FOREX_PAIR.fullmatch(symbol.strip()) else "stock"
