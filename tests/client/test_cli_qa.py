"""What a trader sees from the CLI (found by using it): contracts named in full, an OAuth failure
said as OAuth, and no traceback when the reader of a pipe leaves."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.cli import main
from axion_broker_ibkr.sim import SimServer


@pytest.fixture
def on_sim(fresh_sim: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AXION_IBKR_MODE", "sim")
    monkeypatch.setenv("AXION_IBKR_SIM_URL", fresh_sim.root_url)
    monkeypatch.setenv("AXION_IBKR_SSL_VERIFY", fresh_sim.cert_fingerprint)
    monkeypatch.setenv("AXION_IBKR_GATEWAY_HOST", "127.0.0.1")
    monkeypatch.setenv("AXION_IBKR_DATABASE_URL", "memory")
    return fresh_sim


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["resolve", "AAPL", "--type", "option", "--expiry", "20270115", "--strike", "185", "--right", "P"],
         "AAPL 2027-01-15 185 P"),
        (["resolve", "ES", "--type", "futures"], "ES "),
        (["resolve", "EUR.USD", "--type", "forex"], "EUR.USD"),
        (["resolve", "US-T 4.25 11/15/34", "--type", "bond"], "4.25% 2034-11-15"),
    ],
    ids=["option", "future", "forex", "bond"],
)  # fmt: skip
def test_resolve_names_the_contract_in_full(
    on_sim: Any, capsys: pytest.CaptureFixture[str], argv: list[str], name: str
) -> None:
    assert main(argv) == 0
    contract = json.loads(capsys.readouterr().out)
    assert name in contract["name"], contract["name"]
    if contract["sec_type"] == "FUT":  # ``ES Dec 2026 (ESZ6)``: month, year and local symbol
        assert contract["local_symbol"] and f"({contract['local_symbol']})" in contract["name"]


def test_quote_names_each_contract(on_sim: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quote", "AAPL", "EUR.USD", "--json"]) == 0
    rows = {r["symbol"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["EUR.USD"]["name"] == "EUR.USD" and rows["AAPL"]["name"] == "AAPL"
    assert main(["quote", "EUR.USD"]) == 0
    assert capsys.readouterr().out.splitlines()[1].rstrip().endswith("EUR.USD")


def test_status_in_oauth_mode_with_a_refused_token_says_why_not_log_in_with_a_browser(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with SimServer(port=0, oauth=True) as sim:
        assert sim.oauth_credentials is not None
        creds = tmp_path / "oauth"
        shutil.copytree(sim.oauth_credentials.parent, creds)
        data = json.loads((creds / "oauth.json").read_text())
        data["consumer_key"] = "NOTACONSX"  # well formed, not registered: "invalid consumer"
        (creds / "oauth.json").write_text(json.dumps(data))
        (creds / "oauth.json").chmod(0o600)
        monkeypatch.setenv("AXION_IBKR_OAUTH_CREDENTIALS", str(creds / "oauth.json"))
        monkeypatch.setenv("AXION_IBKR_OAUTH_BASE_URL", sim.base_url)
        monkeypatch.setenv("AXION_IBKR_SSL_VERIFY", str(creds / "ca.pem"))
        assert main(["status", "--mode", "oauth"]) == 1
        headline = capsys.readouterr().out.splitlines()[0]
    assert headline.startswith("ERROR: IBKR refused the live session token request"), headline
    assert "browser" not in headline


def test_status_in_oauth_mode_without_an_answer_names_the_web_api(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with SimServer(port=0, oauth=True) as sim:
        assert sim.oauth_credentials is not None
        creds = sim.oauth_credentials
        monkeypatch.setenv("AXION_IBKR_OAUTH_CREDENTIALS", str(creds))
        monkeypatch.setenv("AXION_IBKR_SSL_VERIFY", str(creds.parent / "ca.pem"))
        url = sim.base_url
        dead = f"https://127.0.0.1:{_closed_port()}/v1/api"
        monkeypatch.setenv("AXION_IBKR_OAUTH_BASE_URL", dead)
        assert main(["status", "--mode", "oauth"]) == 1
    headline = capsys.readouterr().out.splitlines()[0]
    assert headline.startswith(f"ERROR: IBKR's Web API at {dead} does not answer"), (headline, url)
    assert "axion-ibkr sim" not in headline


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_closed_pipe_is_not_a_traceback(on_sim: Any) -> None:
    cmd = [sys.executable, "-m", "axion_broker_ibkr.cli", "resolve", "ES", "--type", "futures"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| true`: the reader leaves before the command writes

    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.parametrize("command", ["sim", "status", "trust", "resolve", "quote", "db", "dashboard"])
def test_every_command_help_says_what_the_command_does(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]  # argparse: usage, blank line, description
    assert not description.lstrip().startswith(("positional arguments", "options")), text
