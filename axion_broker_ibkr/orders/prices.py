"""Tick rounding that never moves a price against the trader.

A contract dict may carry ``increment_rules`` (``[{"lower_edge": 0.0, "increment": 0.01}, ...]``,
as ``/iserver/contract/rules`` answers them; ``lowerEdge`` is read too) or a flat ``tick_size``.
Without either, prices are sent as given.

Direction: a BUY price rounds **down** and a SELL price rounds **up**, for limits and for stop
triggers alike. A buy limit never pays more and a sell limit never receives less than asked; a
protective stop (sell below the market, buy above it) is moved towards the market, so it triggers no
later than the trader asked. A price already on the grid (within float noise) is left as is.
Trailing amounts are offsets, not prices, and are sent as given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .fields import fail, is_mapping, number

#: A contract's price grid: ``(lower_edge, increment)`` bands, highest edge first.
Grid = tuple[tuple[float, float], ...]

_ABSENT: Any = object()

#: increment -> (decimal places, ``1/increment`` when that is a whole number, tick bound for it).
_STEPS: dict[float, tuple[int, int, int]] = {}


def _steps(increment: float) -> tuple[int, int, int]:
    """Decimal places of an increment (0.01 -> 2, 0.25 -> 2, 1/32 -> 5) and its whole inverse, cached.

    When the increment is exactly its decimal text ``k / 10**places`` and exactly ``1 / N``,
    ``ticks / N`` (a correctly rounded quotient of exact numbers) is the double nearest the decimal
    ``ticks * increment``, which is what ``round(ticks * increment, places)`` gives as long as the
    product's float error stays below half a unit of the last place: ``ticks < 2**51 / k`` (the
    bound kept is half that). It costs a tenth of ``round``. Other increments (0.03, 5) use ``round``.
    """
    cached = _STEPS.get(increment)
    if cached is None:
        text = f"{increment:.10f}".rstrip("0")
        places = len(text) - text.index(".") - 1
        inverse = 1.0 / increment
        whole, bound = 0, 0
        if (
            float(text) == increment
            and inverse.is_integer()
            and inverse < 2**53
            and 1.0 / inverse == increment
        ):
            whole, bound = int(inverse), 2**50 // round(increment * 10**places)
        cached = places, whole, bound
        if len(_STEPS) >= 1024:
            _STEPS.clear()
        _STEPS[increment] = cached
    return cached


def _band(entry: Any, index: int, key: str = "increment_rules") -> tuple[float, float]:
    field = f"contract.{key}[{index}]"
    if not is_mapping(entry):
        fail(field, f"expected {{lower_edge, increment}}, got {type(entry).__name__}")
    edge = entry.get("lower_edge", entry.get("lowerEdge"))
    edge_value = 0.0 if edge is None else number(edge, f"{field}.lower_edge")
    increment = number(entry.get("increment"), f"{field}.increment")
    if increment <= 0.0 or edge_value < 0.0:
        fail(field, "increment must be > 0 and lower_edge >= 0")
    return edge_value, increment


def contract_grid(contract: Mapping[str, Any], key: str = "increment_rules") -> Grid | None:
    """The contract's tick grid, or ``None`` when it carries no increment information.

    ``key`` names the rules to read: ``increment_rules`` (a buy's, and every side's unless IBKR
    answered a sell another grid) or ``sell_increment_rules``; ``tick_size`` is the fallback."""
    rules = contract.get(key)
    if rules:
        if type(rules) is not list and (not isinstance(rules, Sequence) or isinstance(rules, str)):
            fail(f"contract.{key}", f"expected a list, got {type(rules).__name__}")
        if len(rules) == 1:
            entry = rules[0]
            if type(entry) is dict:  # the common case: float edge and increment, checked inline
                edge = entry.get("lower_edge", _ABSENT)
                if edge is _ABSENT:
                    edge = entry.get("lowerEdge")
                increment = entry.get("increment")
                if (
                    type(edge) is float
                    and type(increment) is float
                    and edge >= 0.0
                    and 0.0 < increment < math.inf
                ):
                    return ((edge, increment),)
            return (_band(entry, 0, key),)
        bands = [_band(entry, i, key) for i, entry in enumerate(rules)]
        bands.sort(reverse=True)
        return tuple(bands)
    tick = contract.get("tick_size")
    if tick is None:
        return None
    if type(tick) is float and 0.0 < tick < math.inf:
        return ((0.0, tick),)
    size = number(tick, "contract.tick_size")
    if size <= 0.0:
        fail("contract.tick_size", f"must be greater than 0, got {tick!r}")
    return ((0.0, size),)


def first_tick(grid: Grid) -> float:
    """The lowest price on the grid above zero: the increment of its lowest band (above its edge)."""
    edge, increment = grid[-1]
    return edge + increment if edge > 0.0 else increment


def round_to_grid(price: float, grid: Grid, down: bool) -> float:
    """``price`` on the grid: down (buy) or up (sell) to the band's increment, exact in decimal.

    Float noise (``0.1 + 0.2``) is not a tick off: a price within 1e-9 tick plus the division's
    relative error of a grid point is that point.
    """
    increment = grid[-1][1]  # below every edge: the lowest band's
    for edge, band_increment in grid:  # highest edge first
        if price >= edge:
            increment = band_increment
            break
    steps = price / increment
    noise = 1e-9 + abs(steps) * 1e-13
    if 0.0 < steps < 1e12:  # the usual case, with int() for floor: exactly the general case below
        ticks = int(steps)
        if steps - ticks > noise and (not down or (ticks + 1) - steps <= noise):
            ticks += 1
    else:
        nearest = round(steps)
        near = abs(steps - nearest) <= noise
        ticks = nearest if near else math.floor(steps) if down else math.ceil(steps)
    places, inverse, bound = _STEPS.get(increment) or _steps(increment)
    return ticks / inverse if ticks < bound else round(ticks * increment, places)
