"""Benchmark of order translation: orders/second, and the ratio to hand-written baselines.

Run: ``python bench/translate.py [--seconds 0.3] [--repeat 5]``

Printed per order mix (stock limit, option, forex, futures stop-limit, bond, and all five in turn):

* ``translate``: ``translate_order(order, contract, options)`` (validation + tick rounding + wire dict);
* ``hook path``: the host's hook ``axion_broker_translate_order("ibkr", order, contract)``: the
  settings come from ``AXION_IBKR_*`` over the user config file, read once and refreshed when
  either changes (``translate_settings``);
* ``env each call``: ``translate_order(order, contract)`` with ``options=None``, which re-reads
  the four ``AXION_IBKR_*`` values on every call (the hook's path before issue 13: the "before"
  figure, measured in the same run);
* ``literal``: a hand-written dict literal of the same payload (the values already in variables);
* ``hand map``: a hand-written function building the same dict from the host dict, no validation.

Rates are per CPU second of this process; ratios are ``translate`` (and ``hook path``) time /
baseline time, measured in the same run (best of ``--repeat``).
Targets (issue #2 item 7): >= 100,000 orders/s and <= 5x the literal; the hook path (issue 13
item 8) >= 150,000 orders/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import timeit
from collections.abc import Callable
from typing import Any

from axion_broker_ibkr.orders import TranslateOptions, translate_order
from axion_broker_ibkr.plugin import axion_broker_translate_order

OPTIONS = TranslateOptions(account_id="DU1234567", futures_operator="desk-7")

AAPL = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL", "exchange": "SMART", "currency": "USD",
        "multiplier": None, "expiry": None, "strike": None, "right": None, "description": "APPLE INC",
        "increment_rules": [{"lower_edge": 0.0, "increment": 0.01}]}  # fmt: skip
AAPL_PUT = {"conid": 667629330, "sec_type": "OPT", "symbol": "AAPL", "exchange": "SMART", "currency": "USD",
            "multiplier": 100.0, "expiry": "20240105", "strike": 195.0, "right": "P", "description": "",
            "tick_size": 0.01}  # fmt: skip
EURUSD = {"conid": 12087792, "sec_type": "CASH", "symbol": "EUR", "exchange": "IDEALPRO",
          "currency": "USD", "multiplier": None, "expiry": None, "strike": None, "right": None,
          "description": "EUR.USD"}  # fmt: skip
ES = {"conid": 495512563, "sec_type": "FUT", "symbol": "ES", "exchange": "CME", "currency": "USD",
      "multiplier": 50.0, "expiry": "20251219", "strike": None, "right": None, "description": "",
      "tick_size": 0.25}  # fmt: skip
BOND = {"conid": 999000111, "sec_type": "BOND", "symbol": "IBM", "exchange": "SMART", "currency": "USD",
        "multiplier": None, "expiry": None, "strike": None, "right": None, "description": "",
        "tick_size": 0.001}  # fmt: skip

CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "stock limit": (
        {"symbol": "AAPL", "side": "buy", "qty": 100, "order_type": "limit", "limit_price": 165.127,
         "time_in_force": "day", "client_order_id": "ax-000001", "asset_type": "stock"},
        AAPL,
    ),
    "option limit": (
        {"symbol": "AAPL", "side": "sell", "qty": 3, "order_type": "limit", "limit_price": 2.345,
         "time_in_force": "gtc", "client_order_id": "ax-000002", "asset_type": "option",
         "option_type": "put", "strike": 195.0, "expiration": "20240105"},
        AAPL_PUT,
    ),
    "forex market": (
        {"symbol": "EUR.USD", "side": "buy", "qty": 25000, "order_type": "market", "time_in_force": "ioc",
         "client_order_id": "ax-000003", "asset_type": "forex"},
        EURUSD,
    ),
    "futures stop-limit": (
        {"symbol": "ES", "side": "sell", "qty": 2, "order_type": "stop_limit", "limit_price": 4990.1,
         "stop_price": 4995.1, "time_in_force": "gtc", "client_order_id": "ax-000004",
         "asset_type": "futures"},
        ES,
    ),
    "bond limit": (
        {"symbol": "IBM", "side": "buy", "qty": 10000, "order_type": "limit", "limit_price": 98.1234,
         "time_in_force": "day", "client_order_id": "ax-000005", "asset_type": "bond"},
        BOND,
    ),
}  # fmt: skip

_SIDES = {"buy": "BUY", "sell": "SELL", "sell_short": "SELL", "buy_to_cover": "BUY"}
_TYPES = {"market": "MKT", "limit": "LMT", "stop": "STP", "stop_limit": "STOP_LIMIT"}


def hand_map(order: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    """What a careless hand-written translator does: copy fields, no checks, no rounding."""
    payload: dict[str, Any] = {
        "cOID": order["client_order_id"],
        "orderType": _TYPES[order["order_type"]],
        "side": _SIDES[order["side"]],
        "quantity": order["qty"],
        "tif": order["time_in_force"].upper(),
        "outsideRTH": bool(order.get("extended_hours")),
        "secType": f"{contract['conid']}:{contract['sec_type']}",
        "acctId": OPTIONS.account_id,
    }
    if contract["sec_type"] == "CASH":
        payload["conidex"] = f"{contract['conid']}@IDEALPRO"
    else:
        payload["conid"] = contract["conid"]
        payload["listingExchange"] = contract["exchange"]
    if "limit_price" in order:
        payload["price"] = order["limit_price"]
        if "stop_price" in order:
            payload["auxPrice"] = order["stop_price"]
    elif "stop_price" in order:
        payload["price"] = order["stop_price"]
    if contract["sec_type"] == "FUT":
        payload["manualIndicator"] = OPTIONS.manual_orders
        payload["extOperator"] = OPTIONS.futures_operator
    return payload


def literal_for(payload: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """A dict display with the payload's keys, values held in local variables (no lookups)."""
    names = list(payload)
    args = ", ".join(f"v{i}" for i in range(len(names)))
    body = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(names))
    namespace: dict[str, Any] = {}
    # Generated once so the literal has exactly the payload's keys; the timed call is a plain
    # `{...}` display over closure variables.
    exec(f"def make({args}):\n    return lambda: {{{body}}}", namespace)
    made: Callable[[], dict[str, Any]] = namespace["make"](*payload.values())
    return made


def best_rate(fn: Callable[[], Any], seconds: float, repeat: int) -> float:
    """Calls per CPU second, best of ``repeat`` runs of about ``seconds`` each.

    CPU time of this process (not wall time), so that other work on a shared machine does not
    count as translation time.
    """
    timer = timeit.Timer(fn, timer=time.process_time)
    number, _ = timer.autorange()
    number = max(number, int(number * seconds / 0.2))
    return max(number / t for t in timer.repeat(repeat=repeat, number=number))


def cycle(pairs: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> Callable[[], None]:
    def run() -> None:
        for fn, args in pairs:
            fn(*args)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["AXION_IBKR_FUTURES_OPERATOR"] = "desk-7"
    os.environ["AXION_IBKR_ACCOUNT_ID"] = "DU1234567"
    # A user config file of the bench's own (absent): the user's settings do not change the payloads.
    os.environ["AXION_IBKR_CONFIG_FILE"] = os.path.join(tempfile.mkdtemp(), "config.toml")

    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus")
    header = f"{'case':<20}{'translate/s':>13}{'hook path/s':>13}{'env each/s':>13}{'literal/s':>13}"
    print(header + f"{'hand map/s':>13}{'x literal':>11}{'x hand map':>12}{'hook x lit':>12}")
    Calls = list[tuple[Callable[..., Any], tuple[Any, ...]]]
    rows: list[tuple[str, dict[str, Calls]]] = []
    for name, (order, contract) in CASES.items():
        payload = translate_order(order, contract, OPTIONS)
        assert translate_order(order, contract) == payload
        assert axion_broker_translate_order("ibkr", order, contract) == payload
        rows.append(
            (
                name,
                {
                    "translate": [(translate_order, (order, contract, OPTIONS))],
                    "hook": [(axion_broker_translate_order, ("ibkr", order, contract))],
                    "env": [(translate_order, (order, contract))],
                    "literal": [(literal_for(payload), ())],
                    "hand": [(hand_map, (order, contract))],
                },
            )
        )
    rows.append(
        ("all five in turn", {key: [c for _, calls in rows for c in calls[key]] for key in rows[0][1]})
    )
    for name, calls in rows:
        rates = {
            key: best_rate(cycle(pairs), args.seconds, args.repeat) * len(pairs)
            for key, pairs in calls.items()
        }
        line = f"{name:<20}" + "".join(f"{rate:>13,.0f}" for rate in rates.values())
        ratios = (rates["literal"] / rates["translate"], rates["hand"] / rates["translate"])
        print(line + f"{ratios[0]:>10.1f}x{ratios[1]:>11.1f}x{rates['literal'] / rates['hook']:>11.1f}x")
    print("targets: translate >= 100,000 orders/s; translate time <= 5x the literal; hook path >= 150,000/s")


if __name__ == "__main__":
    main()
