"""A minimal multi_broker: discovers brokers through entry points, registers them, routes to them.

It does what the real host does and nothing more, so the plugin's tests exercise the plugin the way
Axion will: ``PluginManager("axion")`` -> ``add_hookspecs`` -> ``load_setuptools_entrypoints`` ->
``check_pending`` -> capabilities -> adapter -> resolve/translate/place with keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .spec import ENTRY_POINT_GROUP, PROJECT, BrokerSpec

#: BrokerCapabilities fields + registry fields multi_broker reads (HOST_CONTRACT §3).
CAPABILITY_KEYS: tuple[str, ...] = (
    "broker", "stocks", "options", "etfs", "mutual_funds", "bonds", "crypto", "forex", "futures", "margin",
    "short_selling", "extended_hours", "fractional_shares", "real_time_quotes", "streaming", "market_orders",
    "limit_orders", "stop_orders", "trailing_stops", "auth_method", "rate_limit_per_minute",
    "supports_websocket", "supported_assets", "fee_schedule", "latency_ms", "priority",
)  # fmt: skip

#: The multi_broker BrokerAdapter protocol (HOST_CONTRACT §4).
ADAPTER_METHODS = ("connect", "disconnect", "get_account", "get_positions", "place_order", "cancel_order",
                   "get_quote")  # fmt: skip
ADAPTER_PROPERTIES = ("is_connected", "supported_assets")

ORDER_STATUSES = {
    "pending",
    "open",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "expired",
    "replaced",
}


class HostError(Exception):
    pass


@dataclass
class Execution:
    """The executor's reading of one order result."""

    status: str
    fill_price: float
    fill_qty: float
    fee: float
    result: dict[str, Any]


@dataclass
class Portfolio:
    """The aggregator's sum over the brokers it could read."""

    cash: float = 0.0
    equity: float = 0.0
    positions: list[dict[str, Any]] = field(default_factory=list)
    brokers: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


_MISSING = object()


def _first(row: Mapping[str, Any], *keys: str, default: Any = _MISSING) -> Any:
    """The first of ``keys`` present in ``row`` (the host's ``a or b`` fallbacks, read by
    presence: a present ``None`` is handed to ``float()`` and fails, as it does in the host)."""
    for key in keys:
        if key in row:
            return row[key]
    if default is _MISSING:
        raise KeyError(keys[0])
    return default


def _order_qty(order: Mapping[str, Any]) -> Any:
    return order.get("qty", order.get("quantity", 0.0))


def _executor_status(status: Any) -> str:
    """The executor's status mapping: filled/partial/rejected, anything else *filled*."""
    word = str(status or "")
    if word in ("filled", "FILLED"):
        return "filled"
    if word in ("partial", "partially_filled"):
        return "partial"
    if word == "rejected":
        return "rejected"
    return "filled"


def make_plugin_manager(
    *, load_entrypoints: bool = True, plugins: tuple[Any, ...] = ()
) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(BrokerSpec)
    for plugin in plugins:
        pm.register(plugin)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    pm.check_pending()
    return pm


class MultiBroker:
    """Registry + router over every broker the plugin manager knows."""

    def __init__(self, pm: pluggy.PluginManager | None = None) -> None:
        self.pm = pm if pm is not None else make_plugin_manager()
        self.registry: dict[str, dict[str, Any]] = {}
        self.adapters: dict[str, Any] = {}
        #: Brokers the executor marked errored (an exception from place_order): the aggregator skips them.
        self.errored: dict[str, str] = {}
        for caps in self.pm.hook.axion_broker_capabilities():
            missing = [k for k in CAPABILITY_KEYS if k not in caps]
            if missing:
                raise HostError(f"broker {caps.get('broker')!r} capabilities lack {missing}")
            self.registry[caps["broker"]] = caps

    def brokers(self) -> list[str]:
        return sorted(self.registry)

    def adapter(self, broker: str, config: Mapping[str, Any] | None = None) -> Any:
        if broker not in self.registry:
            raise HostError(f"unknown broker {broker!r}; registered: {self.brokers()}")
        adapter = self.pm.hook.axion_broker_adapter(broker=broker, config=dict(config or {}))
        if adapter is None:
            raise HostError(f"broker {broker!r} returned no adapter")
        for name in ADAPTER_METHODS:
            if not inspect.iscoroutinefunction(getattr(adapter, name, None)):
                raise HostError(f"adapter of {broker!r}: {name} must be an async method")
        for name in ADAPTER_PROPERTIES:
            if not isinstance(inspect.getattr_static(type(adapter), name, None), property):
                raise HostError(f"adapter of {broker!r}: {name} must be a property")
        self.adapters[broker] = adapter
        return adapter

    async def resolve(
        self, broker: str, symbol: str, asset_type: str, details: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        adapter = self.adapters.get(broker)
        awaitable = self.pm.hook.axion_broker_resolve(
            broker=broker, adapter=adapter, symbol=symbol, asset_type=asset_type, details=dict(details or {})
        )
        if awaitable is None:
            raise HostError(f"broker {broker!r} does not resolve symbols")
        result: dict[str, Any] = await awaitable
        return result

    def translate(self, broker: str, order: Mapping[str, Any], contract: Mapping[str, Any]) -> dict[str, Any]:
        payload = self.pm.hook.axion_broker_translate_order(
            broker=broker, order=dict(order), contract=dict(contract)
        )
        if payload is None:
            raise HostError(f"broker {broker!r} does not translate orders")
        if isinstance(payload, list):
            raise HostError(f"broker {broker!r} translated an order group; use translate_orders")
        return dict(payload)

    def translate_orders(
        self, broker: str, order: Mapping[str, Any], contract: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The hook's answer as a list: one payload, or an order group's whole array (HOST_CONTRACT §2)."""
        payload = self.pm.hook.axion_broker_translate_order(
            broker=broker, order=dict(order), contract=dict(contract)
        )
        if payload is None:
            raise HostError(f"broker {broker!r} does not translate orders")
        return [dict(p) for p in payload] if isinstance(payload, list) else [dict(payload)]

    async def place(self, broker: str, order: Mapping[str, Any]) -> dict[str, Any]:
        adapter = self.adapters[broker]
        result: dict[str, Any] = await adapter.place_order(dict(order))
        if result.get("status") not in ORDER_STATUSES:
            raise HostError(f"broker {broker!r} reported unknown order status {result.get('status')!r}")
        return result

    async def execute(self, broker: str, order: Mapping[str, Any]) -> Execution:
        """What Axion's executor does with an order (HOST_CONTRACT §4): place it, read the result
        with ``float()`` (``fill_price`` -> ``filled_avg_price`` -> ``price``; ``fill_qty`` ->
        ``filled_quantity`` -> ``qty`` -> the order's ``qty``; ``fee``) and map ``status`` its own
        way. Any exception marks the broker as errored (the aggregator then skips it) and is
        re-raised, as the real executor's failure would surface."""
        try:
            result = await self.place(broker, order)
            execution = Execution(
                status=_executor_status(result.get("status")),
                fill_price=float(_first(result, "fill_price", "filled_avg_price", "price")),
                fill_qty=float(
                    _first(result, "fill_qty", "filled_quantity", "qty", default=_order_qty(order))
                ),
                fee=float(result.get("fee", 0.0)),
                result=result,
            )
        except Exception as exc:
            self.errored[broker] = f"{type(exc).__name__}: {exc}"
            raise
        self.errored.pop(broker, None)
        return execution

    async def aggregate(self) -> Portfolio:
        """What Axion's aggregator does: for every registered adapter not marked errored, read the
        account (``cash``, ``equity`` else ``total_value_usd``) and positions (``symbol`` else
        ``ticker``; ``qty`` else ``quantity``/``size``; ``market_value``, ``cost_basis``,
        ``unrealized_pnl``, ``avg_entry_price`` else ``average_price``/``avgCost``), each with
        ``float()``. An errored broker is skipped (listed in ``skipped``)."""
        portfolio = Portfolio()
        for broker, adapter in sorted(self.adapters.items()):
            if broker in self.errored:
                portfolio.skipped.append(broker)
                continue
            account = await adapter.get_account()
            portfolio.cash += float(account["cash"])
            portfolio.equity += float(_first(account, "equity", "total_value_usd"))
            for row in await adapter.get_positions():
                portfolio.positions.append(
                    {
                        "broker": broker,
                        "symbol": str(_first(row, "symbol", "ticker")),
                        "qty": float(_first(row, "qty", "quantity", "size")),
                        "market_value": float(row.get("market_value", 0.0)),
                        "cost_basis": float(row.get("cost_basis", 0.0)),
                        "unrealized_pnl": float(row.get("unrealized_pnl", 0.0)),
                        "avg_entry_price": float(
                            _first(row, "avg_entry_price", "average_price", "avgCost", default=0.0)
                        ),
                    }
                )
            portfolio.brokers.append(broker)
        return portfolio

    def dashboard_pages(self) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        for group in self.pm.hook.axion_dashboard_pages():
            pages.extend(group)
        return pages
