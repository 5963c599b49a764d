from __future__ import annotations

from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.naming import describe_contract


def test_option_with_and_without_multiplier() -> None:
    opt = IBKRContract(
        conid=1, sec_type="OPT", symbol="AAPL", expiry="20270115", strike=185.0, right="P", multiplier=100
    )
    assert describe_contract(opt) == "AAPL 2027-01-15 185 P"
    mini = {
        "sec_type": "OPT",
        "symbol": "AAPL",
        "expiry": "20270115",
        "strike": 187.5,
        "right": "C",
        "multiplier": 10,
    }
    assert describe_contract(mini) == "AAPL 2027-01-15 187.5 C x10"


def test_future_bond_forex_stock() -> None:
    fut = IBKRContract(conid=2, sec_type="FUT", symbol="ES", expiry="20261218", local_symbol="ESZ6")
    assert describe_contract(fut) == "ES Dec 2026 (ESZ6)"
    bond = {
        "sec_type": "BOND",
        "symbol": "IBM",
        "issuer": "IBM",
        "coupon": 3.3,
        "maturity": "20290515",
        "cusip": "459200JZ5",
    }
    assert describe_contract(bond) == "IBM 3.3% 2029-05-15 (459200JZ5)"
    assert describe_contract({"sec_type": "CASH", "symbol": "EUR", "currency": "USD"}) == "EUR.USD"
    assert describe_contract({"sec_type": "CASH", "symbol": "EUR.USD"}) == "EUR.USD"
    assert describe_contract(IBKRContract(conid=3, sec_type="STK", symbol="AAPL")) == "AAPL"


def test_unknown_parts_are_left_out() -> None:
    assert "None" not in describe_contract({"sec_type": "OPT", "symbol": "AAPL"})
    assert describe_contract({"secType": "FUT", "symbol": "ES"}) == "ES"


def test_bond_from_order_contract_uses_the_symbol_not_the_issuer_id() -> None:
    from axion_broker_ibkr.models import IBKRContract
    from axion_broker_ibkr.naming import describe_contract

    bond = IBKRContract(conid=560002001, sec_type="BOND", symbol="IBM", description="IBM IBM 3.3 05/15/29",
                        local_symbol="IBM", maturity="20290515", issuer="e1400789")  # fmt: skip
    assert describe_contract(bond) == "IBM 3.3% 2029-05-15"
