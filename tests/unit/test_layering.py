"""Import-graph rules that are true today and must stay true (issue 13 items 5 and 7).

Read from the source (``ast``), so an import inside a function counts as much as one at the top:

* the I/O-free core (the operations, the order flow, the order translator, the wire layer, the
  models, the stream's decoder and merged state) imports no ``httpx``/``asyncio``/``threading``/
  ``sqlalchemy``/``websockets``; for the modules listed in ``PURE`` that holds for everything they
  reach inside the package too;
* nothing outside the wire layer spells a wire name (``cOID``, ``conidEx``, ``conidex``,
  ``orderType``, ``orderId``) as a string, except the modules listed in ``WIRE_NAME_OFFENDERS``:
  a ratchet, so a new offender fails and a fixed one must be struck from the list;
* the simulator's market engine (``sim/engine``) reaches neither its API layer (``sim/api``) nor an
  HTTP/ASGI/WebSocket library, and spells no wire name.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "axion_broker_ibkr"
SRC = Path(__file__).resolve().parents[2] / PACKAGE
FORBIDDEN = frozenset({"httpx", "asyncio", "threading", "sqlalchemy", "websockets"})

#: The I/O-free core: no forbidden import in the module itself. Every module of ``ops/`` (the
#: operations) and ``wire/`` (the wire layer) is in it by folder, so a new operation is checked
#: without being listed.
IO_FREE_FOLDERS: tuple[str, ...] = ("ops", "wire", "orders", "models")
IO_FREE: tuple[str, ...] = (
    "errors", "masking", "naming",
    "streaming.decode", "streaming.books", "streaming.events",
)  # fmt: skip
#: ... and for these, in nothing importing them runs inside the package either (parent packages
#: included). Not here: ``streaming.*`` run ``streaming/__init__``, which imports the socket client.
PURE: tuple[str, ...] = (
    "ops", "wire", "errors", "masking", "naming", "orders", "models",
)  # fmt: skip

#: The wire layer: where IBKR's JSON names are written and read.
WIRE_LAYER = ("wire.convert",)
WIRE_NAMES = frozenset({"cOID", "conidEx", "conidex", "orderType", "orderId"})
#: Modules outside the wire layer that still spell a wire name (issue 13: to move behind convert).
WIRE_NAME_OFFENDERS: dict[str, frozenset[str]] = {}


def _path(module: str) -> Path | None:
    base = SRC.joinpath(*module.split(".")) if module else SRC
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _all_modules() -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if parts and parts[0] == "sim":  # the simulator speaks the wire on the other side
            continue
        if "migrations" in parts:
            continue
        out.append(".".join(parts))
    return out


@cache
def _tree(module: str) -> ast.Module:
    path = _path(module)
    assert path is not None, module
    return ast.parse(path.read_text(encoding="utf-8"))


@cache
def _imports(module: str) -> tuple[frozenset[str], frozenset[str]]:
    """(external top-level packages, package-internal modules) that ``module`` imports anywhere."""
    path = _path(module)
    assert path is not None, module
    is_package = path.name == "__init__.py"
    external: set[str] = set()
    internal: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == PACKAGE:
                    internal.add(alias.name.removeprefix(PACKAGE).lstrip("."))
                else:
                    external.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                top = (node.module or "").split(".")[0]
                if top != PACKAGE:
                    external.add(top)
                    continue
                base = (node.module or "").removeprefix(PACKAGE).lstrip(".")
            else:
                parts = module.split(".") if module else []
                if not is_package:
                    parts = parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([node.module] if node.module else [])])
            internal.add(base)
            for alias in node.names:  # ``from . import convert``: a submodule
                sub = f"{base}.{alias.name}" if base else alias.name
                if _path(sub) is not None:
                    internal.add(sub)
    return frozenset(external), frozenset(m for m in internal if _path(m) is not None)


def _parents(module: str) -> list[str]:
    """The packages Python imports first (``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``)."""
    parts = module.split(".") if module else []
    return [".".join(parts[:i]) for i in range(len(parts))]


def _reach(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(_imports(current)[1])
        todo.extend(_parents(current))
    return seen


def _in_folders(folders: tuple[str, ...]) -> list[str]:
    return [m for m in _all_modules() if any(m == f or m.startswith(f + ".") for f in folders)]


def test_the_lists_name_real_modules() -> None:
    for module in (*IO_FREE, *PURE, *WIRE_LAYER, *WIRE_NAME_OFFENDERS, *IO_FREE_FOLDERS):
        assert _path(module) is not None, module


@pytest.mark.parametrize("module", [*_in_folders(IO_FREE_FOLDERS), *IO_FREE])
def test_the_io_free_core_imports_no_io_library(module: str) -> None:
    assert not (_imports(module)[0] & FORBIDDEN), (
        f"{module} imports {sorted(_imports(module)[0] & FORBIDDEN)}"
    )


@pytest.mark.parametrize("module", [*PURE, *_in_folders(PURE)])
def test_pure_modules_reach_no_io_library_inside_the_package(module: str) -> None:
    offenders = {m: sorted(_imports(m)[0] & FORBIDDEN) for m in _reach(module) if _imports(m)[0] & FORBIDDEN}
    assert not offenders, f"{module} reaches {offenders}"


def test_the_operations_import_no_driver_store_or_face() -> None:
    # ops/ is the bottom of the order path: the drivers, the store, the stream, the page and the
    # public faces import it, never the reverse.
    above = ("drivers", "store", "streaming", "dashboard", "sim", "oauth", "client", "gateway",
             "adapter", "plugin", "cli", "lifecycle", "resolver")  # fmt: skip
    for module in _in_folders(("ops", "wire")):
        bad = {m for m in _imports(module)[1] if any(m == a or m.startswith(a + ".") for a in above)}
        assert not bad, (module, sorted(bad))


def test_one_module_per_name() -> None:
    # Issue 13 item 7: a module's name says one thing. ``__init__`` and the Alembic versions aside,
    # no two modules of the package (the simulator included) share a file name.
    seen: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "__init__.py" or "migrations" in path.parts:
            continue
        seen.setdefault(path.stem, []).append(str(path.relative_to(SRC)))
    shared = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not shared, shared


#: What the simulator's API layer speaks: HTTP servers, clients and frameworks, WebSocket, ASGI.
WEB_LIBRARIES = frozenset(
    {
        "httpx",
        "starlette",
        "uvicorn",
        "websockets",
        "wsproto",
        "h11",
        "http",
        "urllib",
        "socket",
        "ssl",
        "email",
        "asgiref",
    }
)


def _sim_modules(folder: str) -> list[str]:
    return sorted(
        folder if path.name == "__init__.py" else f"{folder}.{path.stem}"
        for path in SRC.joinpath(*folder.split(".")).glob("*.py")
    )


@pytest.mark.parametrize("module", _sim_modules("sim.engine"))
def test_the_sim_engine_reaches_neither_the_api_layer_nor_a_web_library(module: str) -> None:
    # Issue 13 item 7: the simulator is its market engine (``sim/engine``) and its HTTP/WebSocket
    # API (``sim/api``) over it. Followed through every import the engine makes (the parent
    # packages aside: ``sim/__init__`` is the front door to ``SimServer``), nothing reaches
    # ``sim.api`` or an HTTP/ASGI/WebSocket library. ``test_sim_layers.py`` checks each step.
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(_imports(current)[1])
    api = sorted(m for m in seen if m == "sim" or m == "sim.api" or m.startswith("sim.api."))
    assert not api, f"{module} reaches {api}"
    web = {m: sorted(_imports(m)[0] & WEB_LIBRARIES) for m in seen if _imports(m)[0] & WEB_LIBRARIES}
    assert not web, f"{module} reaches {web}"


def _wire_names(module: str) -> frozenset[str]:
    return frozenset(
        node.value
        for node in ast.walk(_tree(module))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in WIRE_NAMES
    )


def test_wire_names_are_spelled_only_in_the_wire_layer() -> None:
    found = {
        module: names
        for module in _all_modules()
        if module not in WIRE_LAYER and (names := _wire_names(module))
    }
    new = {m: sorted(n - WIRE_NAME_OFFENDERS.get(m, frozenset())) for m, n in found.items()}
    new = {m: n for m, n in new.items() if n}
    assert not new, f"wire names outside the wire layer (use wire.convert's tables): {new}"
    fixed = {m: sorted(n - found.get(m, frozenset())) for m, n in WIRE_NAME_OFFENDERS.items()}
    fixed = {m: n for m, n in fixed.items() if n}
    assert not fixed, f"no longer spelled there: strike them from WIRE_NAME_OFFENDERS: {fixed}"


def test_the_wire_layer_holds_the_names() -> None:
    assert _wire_names("wire.convert") >= {"cOID", "conidEx", "conidex", "orderType", "orderId"}


def test_the_sim_engine_spells_no_wire_name() -> None:
    # The simulator's side of the wire is its API layer (``sim.api.ticket_reader`` reads the tickets).
    found = {m: sorted(_wire_names(m)) for m in _sim_modules("sim.engine") if _wire_names(m)}
    assert not found, f"wire names in the sim engine (read them in sim.api): {found}"


def test_nothing_inside_the_package_imports_a_0_1_path() -> None:
    from axion_broker_ibkr._moved import MOVED

    for module in _all_modules():
        is_package = _path(module) is not None and _path(module).name == "__init__.py"  # type: ignore[union-attr]
        for node in ast.walk(_tree(module)):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 0:
                if not (node.module or "").startswith(PACKAGE):
                    continue
                base = (node.module or "").removeprefix(PACKAGE).lstrip(".")
            else:
                parts = module.split(".") if module else []
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([node.module] if node.module else [])])
            names = [base, *(f"{base}.{a.name}" if base else a.name for a in node.names)]
            assert not [n for n in names if n in MOVED], (module, ast.unparse(node))
    for old in MOVED:
        assert _path(old) is None, f"{old} is both a module and a moved path"
