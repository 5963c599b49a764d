"""``axion-ibkr status / resolve / quote`` against the simulator (in-process ``main``)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from axion_broker_ibkr.cli import main


def test_status_reports_a_healthy_simulator(page: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SUCCESS: Connected and authenticated.")
    assert "DU***567" in out
    assert "DU1234567" not in out


def test_status_json_and_exit_code_when_logged_out(
    page_on_fresh_sim: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    page_on_fresh_sim.admin.logout()
    assert main(["status", "--json"]) == 1
    status = json.loads(capsys.readouterr().out)
    assert status["Logged in (SSO)"] == "no"
    assert status["Mode"] == "sim"


@pytest.mark.parametrize(
    ("argv", "sec_type", "symbol"),
    [
        (["resolve", "AAPL"], "STK", "AAPL"),
        (["resolve", "EUR.USD", "--type", "forex"], "CASH", "EUR.USD"),
        (["resolve", "ES", "--type", "futures"], "FUT", "ES"),
    ],
)
def test_resolve_prints_the_contract(
    page: Any, capsys: pytest.CaptureFixture[str], argv: list[str], sec_type: str, symbol: str
) -> None:
    assert main(argv) == 0
    contract = json.loads(capsys.readouterr().out)
    assert contract["sec_type"] == sec_type
    assert contract["symbol"] == symbol
    assert isinstance(contract["conid"], int)
    assert contract["mode"] == "sim"


@pytest.mark.parametrize(
    ("argv", "conid", "coupon", "maturity"),
    [
        (["resolve", "US-T 4.25 11/15/34", "--type", "bond"], 560001001, 4.25, "20341115"),
        (["resolve", "IBM 3.3 05/15/29", "--type", "bond"], 560002001, 3.3, "20290515"),
        (["resolve", "T", "--type", "bond", "--maturity", "20341115"], 560001001, 4.25, "20341115"),
        (["resolve", "IBM", "--type", "bond", "--issuer", "e1400789", "--maturity", "202905",
          "--coupon", "3.3"], 560002001, 3.3, "20290515"),
    ],
    ids=["treasury-description", "corporate-description", "T-with-maturity", "issuer-maturity-coupon"],
)  # fmt: skip
def test_resolve_bonds_as_traders_name_them(
    page: Any, capsys: pytest.CaptureFixture[str], argv: list[str], conid: int, coupon: float, maturity: str
) -> None:
    """Issue 10 item 6: the description form, ``T`` as the Treasury, --maturity/--coupon/--issuer."""
    assert main(argv) == 0
    contract = json.loads(capsys.readouterr().out)
    assert (contract["sec_type"], contract["conid"]) == ("BOND", conid)
    assert (contract["coupon"], contract["maturity"]) == (coupon, maturity)


def test_resolve_unknown_symbol_fails_with_a_message(page: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resolve", "NOSUCHSYM"]) == 2
    assert "NOSUCHSYM" in capsys.readouterr().err


def test_quote_prints_prices(page: Any, capsys: pytest.CaptureFixture[str]) -> None:
    page.admin.set_price(265598, 190.0)
    assert main(["quote", "AAPL", "MSFT", "--json"]) == 0
    rows = {r["symbol"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"AAPL", "MSFT"}
    assert rows["AAPL"]["conid"] == 265598
    assert rows["AAPL"]["last"] == pytest.approx(190.0, rel=0.01)
    assert rows["MSFT"]["bid"] <= rows["MSFT"]["ask"]
