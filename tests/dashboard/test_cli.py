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


def test_quote_gives_each_symbol_its_own_type_and_fails_only_the_bad_ones(
    page: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["quote", "AAPL", "MSFT", "EUR.USD", "--json"]) == 0
    rows = {r["symbol"]: r for r in json.loads(capsys.readouterr().out)}
    assert [rows[s]["sec_type"] for s in ("AAPL", "MSFT", "EUR.USD")] == ["STK", "STK", "CASH"]
    assert 0.5 < rows["EUR.USD"]["last"] < 2.0
    assert main(["quote", "AAPL", "NOSUCHSYM", "EUR.USD"]) == 1  # partly failed
    captured = capsys.readouterr()
    assert "AAPL" in captured.out and "EUR.USD" in captured.out
    assert "axion-ibkr quote: NOSUCHSYM:" in captured.err
    assert "Traceback" not in captured.err
    assert main(["quote", "NOSUCHSYM"]) == 2  # all failed


def test_status_resolve_quote_take_host_port_and_mode(
    page: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import urlsplit

    port = urlsplit(page.root_url).port
    monkeypatch.delenv("AXION_IBKR_SIM_URL")  # only the command line names the simulator
    monkeypatch.setenv("AXION_IBKR_MODE", "gateway")
    base = ["--mode", "sim", "--host", "127.0.0.1", "--port", str(port)]
    assert main(["status", *base]) == 0
    assert capsys.readouterr().out.startswith("SUCCESS: Connected and authenticated.")
    assert main(["resolve", "AAPL", *base]) == 0
    assert json.loads(capsys.readouterr().out)["conid"] == 265598
    assert main(["quote", "AAPL", *base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["conid"] == 265598


@pytest.mark.parametrize("command", ["status", "resolve", "quote"])
def test_host_port_options_refuse_bad_ports_in_one_line(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command] + ([] if command == "status" else ["AAPL"]) + ["--port", "70000"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "port must be from 1 to 65535, got 70000" in err
    assert "Traceback" not in err


def test_db_upgrade_refuses_a_sqlite_url_in_a_missing_directory(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-dir" / "orders.sqlite"
    assert main(["db", "upgrade", "--url", f"sqlite:///{missing}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "does not exist" in err and "no-such-dir" in err
    assert not missing.parent.exists()  # not created silently


def test_db_upgrade_without_psycopg_says_which_extra_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    assert main(["db", "upgrade", "--url", "postgresql://axion@127.0.0.1:1/axion"]) == 2
    err = capsys.readouterr().err
    assert "axion-broker-ibkr[postgres]" in err
    assert err.count("\n") == 1
