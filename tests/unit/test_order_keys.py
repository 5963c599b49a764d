"""Bad order dicts: likely typos and unimplemented order features are refused, other unknown keys
are kept out of the payload (and listed in the order-log row: tests/client/test_order_keys_sim.py)."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.orders import translate_order
from axion_broker_ibkr.orders.fields import (
    KNOWN_ORDER_KEYS,
    UNIMPLEMENTED_ORDER_KEYS,
    check_order_keys,
    likely_typo,
)

AAPL = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL", "exchange": "SMART", "currency": "USD",
        "increment_rules": [{"lower_edge": 0.0, "increment": 0.01}]}  # fmt: skip
ORDER = {"symbol": "AAPL", "side": "buy", "qty": 10, "order_type": "limit", "limit_price": 180.0,
         "time_in_force": "day", "asset_type": "stock", "client_order_id": "k-1"}  # fmt: skip


@pytest.mark.parametrize(
    ("typo", "known"),
    [("limt_price", "limit_price"), ("time_in_forse", "time_in_force"), ("extended_hour", "extended_hours"),
     ("stop_prcie", "stop_price"), ("client_ordr_id", "client_order_id"), ("qtty", "qty"), ("Side", "side"),
     ("trail_percnt", "trail_percent")],
)  # fmt: skip
def test_a_likely_typo_is_refused_naming_both_spellings(typo: str, known: str) -> None:
    order: dict[str, Any] = {**ORDER, typo: 1}
    with pytest.raises(OrderValidationError) as info:
        translate_order(order, AAPL)
    assert info.value.field == typo
    assert typo in str(info.value) and repr(known) in str(info.value)


def test_a_typo_never_falls_back_to_the_default() -> None:
    # time_in_forse: "gtc" would otherwise be dropped and the order sent as a DAY order
    order = {k: v for k, v in ORDER.items() if k != "time_in_force"} | {"time_in_forse": "gtc"}
    with pytest.raises(ValueError, match=r"time_in_forse.*'time_in_force'"):
        translate_order(order, AAPL)


@pytest.mark.parametrize("key", sorted(UNIMPLEMENTED_ORDER_KEYS))
def test_order_features_the_plugin_does_not_implement_are_refused(key: str) -> None:
    with pytest.raises(OrderValidationError, match="does not implement") as info:
        translate_order({**ORDER, key: {"limit_price": 190.0}}, AAPL)
    assert info.value.field == key


def test_a_bracket_dict_is_refused_not_sent_as_a_naked_entry() -> None:
    bracket = {**ORDER, "take_profit": {"limit_price": 200.0}, "stop_loss": {"stop_price": 170.0}}
    with pytest.raises(OrderValidationError, match=r"stop_loss|take_profit"):
        translate_order(bracket, AAPL)


def test_other_unknown_keys_stay_out_of_the_payload() -> None:
    order = {**ORDER, "strategy": "mean-revert", "tag": "t1", "notes": "x"}
    payload = translate_order(order, AAPL)
    assert check_order_keys(order) == ("notes", "strategy", "tag")
    assert payload == translate_order(ORDER, AAPL)  # nothing of them reaches IBKR
    assert not {"strategy", "tag", "notes"} & set(payload)


def test_known_keys_are_never_typos_of_each_other() -> None:
    assert check_order_keys({k: None for k in KNOWN_ORDER_KEYS}) == ()
    for key in KNOWN_ORDER_KEYS:
        assert likely_typo(key) == key
    assert likely_typo("strategy_id") == "" and likely_typo("order_id") == ""
