"""``axion-ibkr status --mode oauth`` against ``SimServer(oauth=True)`` (in-process ``main``)."""

from __future__ import annotations

import json

import pytest

from axion_broker_ibkr.cli import main
from axion_broker_ibkr.sim import SimServer


def test_status_in_oauth_mode(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with SimServer(port=0, oauth=True) as sim:
        assert sim.oauth_credentials is not None
        monkeypatch.setenv("AXION_IBKR_OAUTH_CREDENTIALS", str(sim.oauth_credentials))
        monkeypatch.setenv("AXION_IBKR_OAUTH_BASE_URL", sim.base_url)
        monkeypatch.setenv("AXION_IBKR_SSL_VERIFY", str(sim.oauth_credentials.parent / "ca.pem"))
        assert main(["status", "--mode", "oauth", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["Mode"] == "oauth" and status["Authenticated"] == "yes"
        assert status["URL"] == sim.base_url
        assert status["OAuth token expires"].endswith("UTC") and status["OAuth refreshes"] == "0"
        assert sim.state.oauth is not None and sim.state.oauth.issued == 1


def test_status_in_oauth_mode_without_credentials_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AXION_IBKR_OAUTH_CREDENTIALS", raising=False)
    assert main(["status", "--mode", "oauth"]) == 2
    err = capsys.readouterr().err
    assert "oauth_credentials" in err and "AXION_IBKR_OAUTH_CREDENTIALS" in err
