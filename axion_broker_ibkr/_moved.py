"""The 0.1 module paths, kept working for one release after the 0.2 reorganisation.

0.2 put the core's operations in ``ops/``, the drivers in ``drivers/`` and the wire layer in
``wire/``, and gave every module one name (issue 13). Code written against 0.1 that imports an old
path (``axion_broker_ibkr.contracts``, ``axion_broker_ibkr.journal``, ...) gets a small stand-in
module whose attributes are read from the new homes, in order. Nothing inside the package imports
an old path (``tests/unit/test_layering.py`` checks it). Remove this table in 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence
from typing import Any

PACKAGE = __name__.rpartition(".")[0]

#: old module (package-relative) -> its new homes, searched in order for each attribute.
MOVED: dict[str, tuple[str, ...]] = {
    "contracts": ("resolver",),
    "core": ("ops.iserver", "ops.effects"),
    "core_market": ("ops.marketdata",),
    "core_secdef": ("ops.secdef",),
    "convert": ("wire.convert",),
    "journal": ("ops.journal", "store.memory"),
    "session": ("lifecycle",),
    "orderpath": ("ops.orderpath",),
    "orderflow": ("ops.orderpath",),
    "ops.orderflow": ("ops.orderpath",),
    "groupflow": ("ops.groupflow",),
    "requestpolicy": ("ops.requestpolicy",),
    "resets": ("ops.resets",),
    "steps": ("drivers.steps",),
    "clientbase": ("drivers.client_base",),
    "client_async": ("drivers.client_async",),
    "client_sync": ("drivers.client_sync",),
    "gateway_async": ("drivers.gateway_async",),
    "gateway_sync": ("drivers.gateway_sync",),
    "gatewaybase": ("drivers.gateway_base",),
    "primitives": ("drivers.primitives",),
    "pacing": ("drivers.pacing",),
    "pacing_stores": ("drivers.pacing_stores",),
    "probe": ("drivers.probe",),
    "tls": ("drivers.tls",),
    "store.journal": ("store.sql_journal",),
    "store.status": ("store.row_status",),
    "streaming.state": ("streaming.books",),
    "orders.core": ("orders.writer",),
    "oauth.session": ("oauth.auth",),
    # the simulator: 0.1's flat sim/ modules, split into sim/engine and sim/api with one name each
    "sim.accounts": ("sim.engine.paper_accounts",),
    "sim.admin": ("sim.api.admin",),
    "sim.app": ("sim.api.asgi",),
    "sim.clock": ("sim.engine.clock",),
    "sim.contracts": ("sim.api.secdef_views",),
    "sim.fields": ("sim.api.snapshot_fields",),
    "sim.history": ("sim.engine.history",),
    "sim.http": ("sim.api.http",),
    "sim.market": ("sim.engine.paper_market",),
    "sim.oauth": ("sim.api.oauth",),
    "sim.orders": ("sim.engine.order_engine",),
    "sim.pacing": ("sim.api.pacing_gate",),
    "sim.routes_contracts": ("sim.api.routes_contracts",),
    "sim.routes_marketdata": ("sim.api.routes_marketdata",),
    "sim.routes_orders": ("sim.api.routes_orders",),
    "sim.routes_portfolio": ("sim.api.routes_portfolio",),
    "sim.routes_session": ("sim.api.routes_session",),
    "sim.server": ("sim.api.server",),
    "sim.session": ("sim.engine.brokerage",),
    "sim.state": ("sim.api.state",),
    "sim.tickets": ("sim.engine.tickets", "sim.api.ticket_reader"),
    "sim.tls": ("sim.api.certificate",),
    "sim.universe": ("sim.engine.universe",),
    "sim.wire": ("sim.api.wire",),
    "sim.ws": ("sim.api.ws",),
    "sim.ws_frames": ("sim.api.ws_frames",),
    # ... and the names the split first gave them (before the renames)
    "sim.api.app": ("sim.api.asgi",),
    "sim.api.contracts": ("sim.api.secdef_views",),
    "sim.api.fields": ("sim.api.snapshot_fields",),
    "sim.api.pacing": ("sim.api.pacing_gate",),
    "sim.api.tls": ("sim.api.certificate",),
    "sim.engine.accounts": ("sim.engine.paper_accounts",),
    "sim.engine.market": ("sim.engine.paper_market",),
    "sim.engine.orders": ("sim.engine.order_engine",),
    "sim.engine.session": ("sim.engine.brokerage",),
}


class _StandIn(types.ModuleType):
    """An old path: attribute reads go to the new homes."""

    def __init__(self, name: str, homes: Sequence[str]) -> None:
        super().__init__(name, f"Moved in 0.2 to {', '.join(homes)}.")
        self._homes = tuple(homes)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        for home in self._homes:
            module = importlib.import_module(home)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(
            f"module {self.__name__!r} (moved to {', '.join(self._homes)}) has no attribute {attr!r}"
        )

    def __dir__(self) -> list[str]:
        names: set[str] = set()
        for home in self._homes:
            names.update(dir(importlib.import_module(home)))
        return sorted(names)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        prefix = PACKAGE + "."
        if not fullname.startswith(prefix) or fullname[len(prefix) :] not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        homes = MOVED[spec.name[len(PACKAGE) + 1 :]]
        return _StandIn(spec.name, [f"{PACKAGE}.{home}" for home in homes])

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def install() -> None:
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
