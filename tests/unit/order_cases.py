"""Contracts and helpers shared by the order-translation example tests (REFERENCE §4.1 examples)."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import OrderValidationError
from axion_broker_ibkr.orders import TranslateOptions, translate_order
from tests.conftest import load_fixture

OPTIONS = TranslateOptions(account_id="U1234567", futures_operator="desk-7")

RULES = load_fixture("contract_rules")
OPT_INFO = load_fixture("secdef_info_OPT")[0]
ES = load_fixture("trsrv_futures")["ES"][1]

AAPL: dict[str, Any] = {
    "conid": 265598,
    "sec_type": "STK",
    "symbol": "AAPL",
    "exchange": "SMART",
    "currency": "USD",
    "multiplier": None,
    "expiry": None,
    "strike": None,
    "right": None,
    "description": "APPLE INC",
    # contract_rules.json: [{"lowerEdge": 0.0, "increment": 0.01}] (wire spelling read as is)
    "increment_rules": RULES["incrementRules"],
}
AAPL_PUT: dict[str, Any] = {
    "conid": OPT_INFO["conid"],
    "sec_type": "OPT",
    "symbol": OPT_INFO["symbol"],
    "exchange": OPT_INFO["exchange"],
    "currency": OPT_INFO["currency"],
    "multiplier": float(OPT_INFO["multiplier"]),
    "expiry": OPT_INFO["maturityDate"],
    "strike": OPT_INFO["strike"],
    "right": OPT_INFO["right"],
    "description": OPT_INFO["desc2"],
}
EURUSD: dict[str, Any] = {
    "conid": 12087792,
    "sec_type": "CASH",
    "symbol": "EUR",
    "exchange": "IDEALPRO",
    "currency": "USD",
    "description": "EUR.USD",
}
ES_FUT: dict[str, Any] = {
    "conid": ES["conid"],
    "sec_type": "FUT",
    "symbol": ES["symbol"],
    "exchange": "CME",
    "currency": "USD",
    "multiplier": 50.0,
    "expiry": str(ES["expirationDate"]),
    "tick_size": 0.25,
}
# No bond conid appears in the reference's examples (the IBM issuer record carries a placeholder);
# 999000111 stands for one resolved through secdef/info with issuerId e1400789.
IBM_BOND: dict[str, Any] = {
    "conid": 999000111,
    "sec_type": "BOND",
    "symbol": "IBM",
    "exchange": "SMART",
    "currency": "USD",
    "maturity": "20300515",
    "tick_size": 0.001,
}


def order(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"side": "buy", "qty": 100, "order_type": "market", "client_order_id": "T-1"}
    base.update(fields)
    return base


def refused(field: str, host_order: dict[str, Any], contract: dict[str, Any], **kw: Any) -> str:
    """Translate, expect a refusal naming ``field``; return the message."""
    with pytest.raises(OrderValidationError) as info:
        translate_order(host_order, contract, kw.get("options", OPTIONS))
    assert info.value.field == field, str(info.value)
    assert isinstance(info.value, ValueError)
    return str(info.value)
