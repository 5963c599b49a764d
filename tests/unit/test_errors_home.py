"""Every exception class of the package lives in ``axion_broker_ibkr/errors.py`` (issue 13 item 6).

Read from the source (``ast``, nothing imported: the page's script would render), so the simulator,
the page and the CLI count as much as the client.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

from axion_broker_ibkr import errors

SRC = Path(__file__).resolve().parents[2] / "axion_broker_ibkr"
#: base names that make a class an exception: the builtins' and errors.py's own
EXCEPTIONS = frozenset(
    name
    for source in (vars(builtins), vars(errors))
    for name, value in source.items()
    if inspect.isclass(value) and issubclass(value, BaseException)
)


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):  # httpx.HTTPError, errors.IBKRError
        return node.attr
    if isinstance(node, ast.Subscript):
        return _base_name(node.value)
    return node.id if isinstance(node, ast.Name) else ""


def exception_classes(source: str) -> list[str]:
    """Classes in ``source`` that derive from an exception, as far as their bases' names tell."""
    found: list[str] = []
    known = set(EXCEPTIONS)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            names = {_base_name(base) for base in node.bases}
            if names & known or any(n.endswith(("Error", "Exception", "Warning")) for n in names):
                found.append(node.name)
                known.add(node.name)
    return found


def test_no_module_outside_errors_defines_an_exception() -> None:
    stray = {
        str(path.relative_to(SRC)): names
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "errors.py" and (names := exception_classes(path.read_text(encoding="utf-8")))
    }
    assert not stray, f"exception classes outside errors.py (move them there): {stray}"


def test_the_check_sees_the_ways_an_exception_is_spelled() -> None:
    source = (
        "import httpx\nfrom ..errors import IBKRError\n"
        "class A(Exception): ...\nclass B(A): ...\nclass C(httpx.HTTPError): ...\n"
        "class D(IBKRError, ValueError): ...\nclass E(SomethingRefused): ...\nclass F: ...\n"
        "def f():\n    class G(KeyError): ...\n"
    )
    assert exception_classes(source) == ["A", "B", "C", "D", "G"]  # E: a name that says nothing


def test_the_simulator_errors_moved_here_keep_their_bases() -> None:
    for cls in (errors.AdminError, errors.HistoryError, errors.OAuthRefused, errors.TicketError):
        assert issubclass(cls, errors.SimError) and not issubclass(cls, errors.IBKRError)
    assert issubclass(errors.AdminError, ValueError)  # the admin API answers bad input as before
