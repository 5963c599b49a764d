"""The Axion broker hook specification (HOST_CONTRACT §2), as the host declares it.

This module is the host's, not the plugin's: the plugin never imports it (it only needs
``pluggy.HookimplMarker("axion")``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import pluggy

PROJECT = "axion"
ENTRY_POINT_GROUP = "axion.brokers"

hookspec = pluggy.HookspecMarker(PROJECT)


class BrokerSpec:
    @hookspec
    def axion_broker_capabilities(self) -> dict[str, Any]:  # type: ignore[empty-body]
        """One dict per broker this plugin provides (HOST_CONTRACT §3)."""

    @hookspec(firstresult=True)
    def axion_broker_adapter(self, broker: str, config: Mapping[str, Any]) -> Any:
        """Build a connected-on-demand adapter satisfying multi_broker's BrokerAdapter (§4)."""

    @hookspec(firstresult=True)
    def axion_broker_resolve(
        self, broker: str, adapter: Any, symbol: str, asset_type: str, details: Mapping[str, Any]
    ) -> Awaitable[dict[str, Any]] | None:
        """Symbol -> contract dict, as an awaitable; None for brokers that are not the plugin's."""

    @hookspec(firstresult=True)
    def axion_broker_translate_order(
        self, broker: str, order: Mapping[str, Any], contract: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Pure: host order dict + resolved contract -> the broker's native order payload."""

    @hookspec
    def axion_dashboard_pages(self) -> list[dict[str, Any]]:  # type: ignore[empty-body]
        """Dashboard pages the host adds to its navigation."""
