"""The simulator's two layers (issue 13 item 7): ``sim.engine`` (market, orders, accounts, universe,
history, clock, session) imports nothing from ``sim.api`` (routes, WebSocket, OAuth server, pacing
gate, admin, server wiring) and no HTTP/WebSocket library; the API layer sits on the engine.

Read from the source (``ast``, the same reader as ``test_layering.py``), so an import inside a
function counts as much as one at the top.
"""

from __future__ import annotations

import pytest

from tests.unit.test_layering import SRC, WEB_LIBRARIES, _imports, _path
from tests.unit.test_layering import _sim_modules as _modules

ENGINE = "sim.engine"
API = "sim.api"
ENGINE_MODULES = _modules(ENGINE)
API_MODULES = _modules(API)


def test_both_layers_are_there() -> None:
    assert {
        "sim.engine.paper_market",
        "sim.engine.order_engine",
        "sim.engine.paper_accounts",
        "sim.engine.universe",
    } <= set(ENGINE_MODULES)
    assert {"sim.api.asgi", "sim.api.ws", "sim.api.server", "sim.api.oauth", "sim.api.pacing_gate"} <= set(
        API_MODULES
    )
    assert _path("sim.engine") is not None and _path("sim.api") is not None
    # nothing left beside the two layers but the package's front door
    assert [p.name for p in SRC.joinpath("sim").glob("*.py")] == ["__init__.py"]


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_the_engine_imports_nothing_from_the_api_layer(module: str) -> None:
    internal = _imports(module)[1]
    offenders = sorted(m for m in internal if m == API or m.startswith(API + ".") or m == "sim")
    assert not offenders, f"{module} imports {offenders}"
    outside = sorted(m for m in internal if not m.startswith("sim."))
    assert set(outside) <= {"errors"}, f"{module} reaches the plugin's {outside}"


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_the_engine_imports_no_http_or_websocket_library(module: str) -> None:
    assert not (_imports(module)[0] & WEB_LIBRARIES), (
        f"{module} imports {sorted(_imports(module)[0] & WEB_LIBRARIES)}"
    )


def test_the_api_layer_is_built_on_the_engine() -> None:
    used = {m for module in API_MODULES for m in _imports(module)[1] if m.startswith(ENGINE + ".")}
    assert {"sim.engine.paper_market", "sim.engine.order_engine", "sim.engine.paper_accounts"} <= used


def test_the_reader_sees_a_forbidden_import() -> None:
    # the API layer does import starlette: the same reader flags it there
    assert "starlette" in _imports("sim.api.asgi")[0]
    assert "sim.engine.order_engine" in _imports("sim.api.state")[1]
