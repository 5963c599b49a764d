"""A minimal multi_broker: discovers brokers through entry points, registers them, routes to them.

It does what the real host does and nothing more, so the plugin's tests exercise the plugin the way
Axion will: ``PluginManager("axion")`` -> ``add_hookspecs`` -> ``load_setuptools_entrypoints`` ->
``check_pending`` -> capabilities -> adapter -> resolve/translate/place with keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
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
        return dict(payload)

    async def place(self, broker: str, order: Mapping[str, Any]) -> dict[str, Any]:
        adapter = self.adapters[broker]
        result: dict[str, Any] = await adapter.place_order(dict(order))
        if result.get("status") not in ORDER_STATUSES:
            raise HostError(f"broker {broker!r} reported unknown order status {result.get('status')!r}")
        return result

    def dashboard_pages(self) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        for group in self.pm.hook.axion_dashboard_pages():
            pages.extend(group)
        return pages
