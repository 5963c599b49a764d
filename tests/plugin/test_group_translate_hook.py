"""A group through the reference host's translate hook: the whole CPAPI ``orders`` array, parent first."""

from __future__ import annotations

import pytest

from tests.host.multi_broker import MultiBroker
from tests.plugin.test_translate_hook import AAPL, ENV_KEYS, ES


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> MultiBroker:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return MultiBroker()


def test_host_translates_a_bracket_to_the_whole_orders_array(host: MultiBroker) -> None:
    order = {"symbol": "AAPL", "side": "buy", "qty": 5, "order_type": "limit", "limit_price": 180.0,
             "client_order_id": "br-1", "take_profit": {"limit_price": 190.0},
             "stop_loss": {"stop_price": 175.0}}  # fmt: skip
    payloads = host.translate_orders("ibkr", order, AAPL)
    assert len(payloads) == 3
    assert (
        host.translate_orders(
            "ibkr", {k: order[k] for k in ("side", "qty", "order_type", "limit_price")}, AAPL
        )[0]["price"]
        == 180.0
    )
    assert payloads[0]["cOID"] == "br-1" and "parentId" not in payloads[0]
    assert [p.get("parentId") for p in payloads[1:]] == ["br-1", "br-1"]
    assert [(p["side"], p["orderType"], p["price"]) for p in payloads[1:]] == [
        ("SELL", "LMT", 190.0),
        ("SELL", "STP", 175.0),
    ]


def test_host_refuses_a_bad_leg_naming_it(host: MultiBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "desk-1")
    order = {"side": "sell", "qty": 1, "order_type": "limit", "limit_price": 5000.0,
             "take_profit": {"limit_price": 5005.0}}  # fmt: skip
    with pytest.raises(ValueError, match=r"take_profit\.limit_price"):
        host.translate_orders("ibkr", order, ES)
    oco = {"oco": [{"side": "buy", "qty": 1, "order_type": "stop", "stop_price": 5010.0},
                   {"side": "buy", "qty": 1, "order_type": "limit", "limit_price": 4990.0}]}  # fmt: skip
    payloads = host.translate_orders("ibkr", oco, ES)
    assert [p["isSingleGroup"] for p in payloads] == [True, True]
    assert all(p["extOperator"] == "desk-1" for p in payloads)
