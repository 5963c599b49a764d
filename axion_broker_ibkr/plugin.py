"""pluggy hook implementations: the only module the host imports at start-up.

Keep it cheap to import: no streamlit, sqlalchemy, websockets, uvicorn, httpx or simulator at
module level. Every hook imports what it needs inside its body, and returns ``None`` for brokers
that are not ``"ibkr"`` so that ``firstresult`` hooks reach the right plugin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pluggy

from . import BROKER_NAME

hookimpl = pluggy.HookimplMarker("axion")

#: multi_broker's and the brokers package's asset-type vocabularies (HOST_CONTRACT §4).
SUPPORTED_ASSETS: tuple[str, ...] = ("stock", "etf", "option", "options", "forex", "futures", "bond", "bonds")


@hookimpl
def axion_broker_capabilities() -> dict[str, Any]:
    return {
        "broker": BROKER_NAME,
        "stocks": True,
        "options": True,
        "etfs": True,
        "mutual_funds": False,
        "bonds": True,
        "crypto": False,
        "forex": True,
        "futures": True,
        "margin": True,
        "short_selling": True,
        "extended_hours": True,
        "fractional_shares": False,
        "real_time_quotes": True,
        # IBKRStreaming (axion_broker_ibkr.streaming): one WebSocket, merged state, reconnect.
        "streaming": True,
        "market_orders": True,
        "limit_orders": True,
        "stop_orders": True,
        "trailing_stops": True,
        "auth_method": "client_portal_gateway",
        "rate_limit_per_minute": 50,
        "supports_websocket": True,
        "supported_assets": list(SUPPORTED_ASSETS),
        "fee_schedule": {
            "stocks_per_share": 0.005,
            "stocks_min_per_order": 1.0,
            "stocks_max_pct_of_trade": 1.0,
            "options_per_contract": 0.65,
            "futures_per_contract": 0.85,
            "forex_bps": 0.2,
            "forex_min_per_order": 2.0,
            "bonds_pct_of_face": 0.1,
            "currency": "USD",
            "schedule": "IBKR Pro fixed (indicative)",
        },
        "latency_ms": 50.0,
        "priority": 20,
    }


@hookimpl
def axion_broker_adapter(broker: str, config: Mapping[str, Any]) -> Any:
    """An :class:`~axion_broker_ibkr.adapter.IBKRAdapter`, connected on demand (``connect()``)."""
    if broker != BROKER_NAME:
        return None
    from .adapter import IBKRAdapter

    return IBKRAdapter.from_config(config)


@hookimpl
def axion_broker_resolve(
    broker: str, adapter: Any, symbol: str, asset_type: str, details: Mapping[str, Any]
) -> Awaitable[dict[str, Any]] | None:
    """Symbol -> the contract dict of HOST_CONTRACT §2, as an awaitable."""
    if broker != BROKER_NAME:
        return None

    async def resolve() -> dict[str, Any]:
        from .adapter import IBKRAdapter

        if isinstance(adapter, IBKRAdapter):
            return (await adapter.resolve(symbol, asset_type, details)).to_host()
        owner = IBKRAdapter.from_config({})  # no adapter yet: one from AXION_IBKR_* for this lookup
        try:
            return (await owner.resolve(symbol, asset_type, details)).to_host()
        finally:
            await owner.disconnect()

    return resolve()


@hookimpl
def axion_broker_translate_order(
    broker: str, order: Mapping[str, Any], contract: Mapping[str, Any]
) -> dict[str, Any] | None:
    if broker != BROKER_NAME:
        return None
    # Imported on the first order, then kept: a ``from`` import of a package costs about a
    # microsecond a call, a sixth of a translation.
    translate = _TRANSLATE or _load_translate()
    return translate[0](order, contract, translate[1]())


_TRANSLATE: tuple[Callable[..., dict[str, Any]], Callable[[], Any]] | None = None


def _load_translate() -> tuple[Callable[..., dict[str, Any]], Callable[[], Any]]:
    global _TRANSLATE
    from .orders.translate import translate_order
    from .translate_settings import translate_options  # env over the user config file, cached

    _TRANSLATE = translate_order, translate_options
    return _TRANSLATE


def _render_ibkr_page() -> None:
    """The page's ``render`` callable: imports Streamlit only when the host draws the page."""
    from .dashboard.page import render

    render()


@hookimpl
def axion_dashboard_pages() -> list[dict[str, Any]]:
    """The IBKR page for the host's navigation (HOST_CONTRACT §2); nothing is imported here."""
    return [
        {
            "broker": BROKER_NAME,
            "title": "IBKR",
            "icon": ":material/public:",
            "section": "Trading & Execution",
            "render": _render_ibkr_page,
        }
    ]
