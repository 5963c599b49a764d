"""multi_broker's dict-based ``BrokerAdapter`` (HOST_CONTRACT §4) over :class:`AsyncIBKRClient`.

Every result dict carries exactly the keys the host reads (plus ``mode`` and a few extras). Order
statuses are honest: an order IBKR holds as ``PreSubmitted``/``Submitted`` is ``open``; a refused
order is ``rejected`` with IBKR's message; an order whose fate is unknown after an ambiguous
failure is ``pending`` (it was not re-sent) with a message saying so — never ``filled``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from . import models as m
from .client import AsyncIBKRClient
from .config import IBKRConfig
from .contracts import AsyncContractResolver
from .errors import (
    GatewayError,
    IBKRError,
    OrderRejectedError,
    OrderStateUnknownError,
)
from .gateway import AsyncIBKRGateway
from .journal import ContractCache, MemoryJournal, OrderJournal
from .masking import mask_account, mask_text
from .pacing import Pacer

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


def _amount(summary: Mapping[str, m.SummaryValue], key: str) -> float | None:
    value = summary.get(key)
    return None if value is None else value.amount


class IBKRAdapter:
    """Connected on demand: :meth:`connect` runs the gateway start-up sequence and the keep-alive."""

    def __init__(
        self,
        config: IBKRConfig,
        *,
        journal: OrderJournal | None = None,
        cache: ContractCache | None = None,
        pacer: Pacer | None = None,
        transport: Any = None,
    ) -> None:
        self.config = config
        if journal is None:
            log.warning("IBKR adapter without a database: the order log is kept in memory only")
            journal = MemoryJournal()
        self.client = AsyncIBKRClient(config, journal=journal, cache=cache, pacer=pacer, transport=transport)
        self.gateway = AsyncIBKRGateway(self.client)
        self.resolver = AsyncContractResolver(self.client, cache=cache)
        self.last_error: str = ""
        self._connected = False
        self._store: Any = None  # the database the adapter opened itself (closed on disconnect)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> IBKRAdapter:
        """From the host's config mapping; with a ``database_url`` (config or ``AXION_IBKR_DATABASE_URL``)
        the order log and the contract cache live in the plugin's database."""
        cfg = IBKRConfig.from_mapping(config)
        if cfg.database_url:
            from .store import open_store

            store = open_store(cfg.database_url)
            adapter = cls(cfg, journal=store.journal, cache=store.cache)
            adapter._store = store
            return adapter
        return cls(cfg)

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
        status = await self.gateway.start()
        self._connected = status.healthy
        self.last_error = "" if status.healthy else (status.message or status.fail or "gateway not healthy")
        if not status.healthy:
            log.warning("IBKR connect failed [%s]: %s", status.mode, mask_text(self.last_error))
        else:
            log.info("IBKR connected [%s] account %s", status.mode, mask_account(status.selected_account))
        return self._connected

    async def disconnect(self) -> None:
        await self.gateway.stop()
        await self.client.aclose()
        self._connected = False
        if self._store is not None:
            self._store.close()
            self._store = None

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
        return {
            "account_id": account_id,
            "currency": currency,
            "cash": cash,
            "equity": equity,
            "buying_power": _amount(summary, "buyingpower"),
            "available_funds": _amount(summary, "availablefunds"),
            "mode": self.client.mode,
        }

    async def get_positions(self) -> list[dict[str, Any]]:
        rows = await self.client.positions(await self._account())
        out = []
        for p in rows:
            qty = p.position or 0.0
            cost = None if p.avg_cost is None else p.avg_cost * qty
            out.append(
                {
                    "symbol": p.ticker or p.contract_desc or str(p.conid),
                    "qty": qty,
                    "market_value": p.mkt_value,
                    "cost_basis": cost,
                    "unrealized_pnl": p.unrealized_pnl,
                    "asset_type": _ASSET_CLASS.get(p.asset_class or "", (p.asset_class or "").lower()),
                    "currency": p.currency,
                    "conid": p.conid,
                    "avg_price": p.avg_price,
                    "market_price": p.mkt_price,
                    "mode": self.client.mode,
                }
            )
        return out

    async def place_order(self, order: dict[str, Any]) -> dict[str, Any]:
        coid = order.get("client_order_id")
        try:
            contract = await self.resolve(
                str(order.get("symbol", "")), str(order.get("asset_type") or "stock"), _order_details(order)
            )
            result = await self.client.place_order(order, contract)
        except OrderStateUnknownError as exc:
            return self._result(exc.client_order_id, "pending", f"state unknown, not re-sent: {exc}")
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
        contract = await self.resolve(symbol, "stock", {})
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
            "last_is_close": q.last_is_close,
            "halted": q.halted,
            "missing_fields": list(q.missing_fields),
            "mode": self.client.mode,
        }

    # ----------------------------------------------------------------------------- extras

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
            "fill_price": None,
            "fill_qty": 0.0,
            "fee": None,
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


def _order_details(order: Mapping[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for key, target in _ORDER_DETAILS.items():
        value = order.get(key)
        if value is not None and value != "":
            details[target] = value
    return details
