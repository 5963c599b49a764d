"""Recursive JSON shape comparison: same keys, same JSON value types.

JSON types are compared, not Python ones: ``1`` and ``1.0`` are both numbers. A ``null`` in the
example says nothing about the type (the real account happened to have no value there), so any
value is accepted in its place. Lists are compared element against element *shape*: every element
the simulator sends must match one of the example's elements, and (unless ``all_variants`` is off)
every variant in the example must be produced by at least one element of the simulator.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

#: Objects keyed by account id (or ``<acct>.Core``) in the examples.
MAPS = frozenset({"acctProps", "aliases", "upnl", "chartPeriods"})


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def shape_errors(
    expected: Any,
    actual: Any,
    path: str = "$",
    *,
    extra: Collection[str] = (),
    nullable: Collection[str] = (),
    all_variants: bool = True,
    maps: Collection[str] = MAPS,
) -> list[str]:
    """Differences between the example ``expected`` and the simulator's ``actual`` answer.

    ``extra``: key names the simulator may add (documented in REFERENCE.md but absent from the
    example). ``nullable``: key names whose value may be ``null`` where the example has a value.
    ``maps``: key names whose object is keyed by data (account ids), not by field names: every
    value is compared with the example's first value.
    """
    opts: dict[str, Any] = {"extra": extra, "nullable": nullable, "all_variants": all_variants, "maps": maps}
    if expected is None:
        return []
    et, at = json_type(expected), json_type(actual)
    key = path.rsplit(".", 1)[-1]
    if at == "null" and key in nullable:
        return []
    if et != at:
        return [f"{path}: expected {et}, got {at} ({actual!r:.60})"]
    if et == "object" and key in maps and expected:
        template = next(iter(expected.values()))
        return [e for k, v in actual.items() for e in shape_errors(template, v, f"{path}.{k}", **opts)]
    if et == "object":
        errors = [f"{path}: missing key {k!r}" for k in expected if k not in actual]
        errors += [f"{path}: unexpected key {k!r}" for k in actual if k not in expected and k not in extra]
        for k in expected:
            if k in actual:
                errors += shape_errors(expected[k], actual[k], f"{path}.{k}", **opts)
        return errors
    if et == "array" and expected:
        return _list_errors(expected, actual, path, opts)
    return []


def _list_errors(expected: list[Any], actual: list[Any], path: str, opts: dict[str, Any]) -> list[str]:
    if all(json_type(v) not in {"object", "array"} for v in expected):
        # A list of scalars: one variant per JSON type.
        variants = {json_type(v) for v in expected}
        wrong = [
            f"{path}[{i}]: {json_type(a)} not in {sorted(variants)}"
            for i, a in enumerate(actual)
            if json_type(a) not in variants
        ]
        if opts["all_variants"] and not actual:
            wrong.append(f"{path}: empty, the example has elements")
        return wrong
    errors: list[str] = []
    matched: set[int] = set()
    for i, item in enumerate(actual):
        fits = [j for j, variant in enumerate(expected) if not shape_errors(variant, item, **opts)]
        if not fits:
            candidates: list[list[str]] = [shape_errors(v, item, f"{path}[{i}]", **opts) for v in expected]
            best: list[str] = min(candidates, key=len)
            errors.extend(best)
        matched.update(fits)
    if opts["all_variants"]:
        errors += [
            f"{path}: no element shaped like example element {j}"
            for j in range(len(expected))
            if j not in matched
        ]
    return errors
