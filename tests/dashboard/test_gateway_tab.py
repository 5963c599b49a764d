"""The Gateway tab for a person (issue 11 item 4) and "Trust this gateway" (issue 12 item 1), under
``streamlit.testing.v1.AppTest`` against live simulators over real sockets.

Health comes first in plain words, the raw counters sit in a collapsed section; Re-authenticate and
Take over say what they did; the per-user settings are saved into the user config file and used
at once (a futures order previews after the futures operator is set on the page); an untrusted
gateway shows "certificate not trusted", its fingerprint and a button that trusts it, after which
the page connects to that gateway and never to the simulator.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from .conftest import APP_TIMEOUT
from .test_page import _app, _no_errors, _texts


def _markdown(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def test_health_comes_first_in_plain_words(page: Any) -> None:
    at = _app("Trading")  # the Trading tab starts the stream (orders channel)
    at.session_state["ibkr_tab"] = "Gateway"
    at.run()
    _no_errors(at)
    assert "Connected and authenticated." in [s.value for s in at.success]
    health = _markdown(at)
    assert "**Connected:** yes, linked to IBKR's servers" in health
    assert "**Authenticated:** yes, the brokerage session is open" in health
    assert "**Competing session:** none" in health
    assert r"**Account:** DU\*\*\*567" in health
    assert "(sim mode)" in health
    assert "**Last tickle:**" in health and "ago" in health
    assert "**Pacing:** Within limits" in health
    assert "**Stream: Orders (sor):** live" in health
    assert "DU1234567" not in _texts(at)
    raw = at.expander[0]
    assert raw.label == "Raw status and counters"
    assert raw.proto.expanded is False  # the counters are there, folded away
    counters = [df.value for df in at.dataframe if "Counter" in df.value.columns]
    assert counters and "pacing.requests_sent" in set(counters[0]["Counter"])


def test_reauthenticate_and_take_over_say_what_happened(page_on_fresh_sim: Any) -> None:
    at = _app("Gateway")
    page_on_fresh_sim.admin.drop_brokerage()
    at.button(key="gw_check").click().run()
    assert "brokerage session is not open" in _texts(at)
    at.button(key="gw_reauth").click().run()
    said = [s.value for s in at.success]
    assert any(s.startswith("Re-authenticate: opened the brokerage session again") for s in said), said

    page_on_fresh_sim.admin.competing(True)
    at.button(key="gw_check").click().run()
    assert any("Another platform" in e.value for e in at.error)
    at.button(key="gw_takeover").click().run()
    _no_errors(at)
    said = [s.value for s in at.success]
    assert any("took the brokerage session over: the other platform" in s for s in said), said
    assert "Connected and authenticated." in said


def test_settings_are_saved_in_the_user_config_file_and_futures_preview(
    page: Any, user_config_file: Path
) -> None:
    at = _app("Trading")
    at.selectbox(key="trade_sectype").set_value("Future")
    at.text_input(key="trade_symbol").set_value("ES").run()
    at.button(key="trade_search").click().run()
    at.button(key="trade_use").click().run()
    at.selectbox(key="trade_type").set_value("market").run()
    at.button(key="trade_review").click().run()
    refused = [e.value for e in at.error if "futures operator" in e.value]
    assert refused and "Your settings on the Gateway tab" in refused[0], [e.value for e in at.error]

    gw = _app("Gateway")
    gw.text_input(key="gw_set_auto_confirm").set_value("o163, nonsense")
    gw.button(key="gw_settings_save").click().run()
    assert any(e.value.startswith("Not saved:") and "'auto_confirm'" in e.value for e in gw.error), [
        e.value for e in gw.error
    ]
    assert not user_config_file.exists()  # nothing half-saved

    gw.text_input(key="gw_set_futures_operator").set_value("jdoe")
    gw.text_input(key="gw_set_auto_confirm").set_value("o163")
    gw.checkbox(key="gw_set_manual_orders").check()
    gw.button(key="gw_settings_save").click().run()
    _no_errors(gw)
    saved = tomllib.loads(user_config_file.read_text())
    assert saved == {"futures_operator": "jdoe", "auto_confirm": ["o163"], "manual_orders": True}
    assert any(str(user_config_file) in s.value for s in gw.success), [s.value for s in gw.success]
    assert "Answered yes in this session's own orders (auto_confirm): o163" in _texts(gw)

    at = _app("Trading")  # the open session took the saved settings
    at.selectbox(key="trade_sectype").set_value("Future")
    at.text_input(key="trade_symbol").set_value("ES").run()
    at.button(key="trade_search").click().run()
    at.button(key="trade_use").click().run()
    at.selectbox(key="trade_type").set_value("market").run()
    at.button(key="trade_preview").click().run()
    _no_errors(at)
    at.button(key="trade_review").click().run()
    _no_errors(at)
    assert "Confirm order:" in _texts(at)

    gw = _app("Gateway")
    gw.text_input(key="gw_set_futures_operator").set_value("")
    gw.button(key="gw_settings_save").click().run()
    assert "futures_operator" not in tomllib.loads(user_config_file.read_text())


def test_environment_wins_over_the_file_and_says_so(page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "desk-1")
    at = _app("Gateway")
    _no_errors(at)
    assert "environment (AXION_IBKR_FUTURES_OPERATOR, wins over the file)" in _texts(at)


# ---------------------------------------------------------------------------------------------


@pytest.fixture
def unpinned_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A simulator standing for a real gateway whose certificate nobody trusted yet, in auto mode;
    starting the embedded simulator instead fails the test."""
    import os

    from axion_broker_ibkr.dashboard.factory import reset_sessions
    from axion_broker_ibkr.drivers import client_base
    from axion_broker_ibkr.sim import SimServer

    def refuse() -> Any:
        raise AssertionError("the embedded simulator was started instead of using the gateway")

    monkeypatch.setattr(client_base, "embedded_sim", refuse)
    server = SimServer(port=0, seed=41)
    server.start()
    for name in list(os.environ):
        if name.startswith("AXION_IBKR_") and name != "AXION_IBKR_CONFIG_FILE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AXION_IBKR_MODE", "auto")
    monkeypatch.setenv("AXION_IBKR_GATEWAY_HOST", "127.0.0.1")
    monkeypatch.setenv("AXION_IBKR_GATEWAY_PORT", server.root_url.rsplit(":", 1)[1])
    monkeypatch.setenv("AXION_IBKR_DATABASE_URL", f"sqlite:///{tmp_path / 'orders.sqlite'}")
    try:
        yield server
    finally:
        reset_sessions()
        server.stop()


def test_untrusted_gateway_shows_the_fingerprint_and_trust_connects(
    unpinned_gateway: Any, user_config_file: Path
) -> None:
    from axion_broker_ibkr.userconfig import gateway_pin

    port = int(unpinned_gateway.root_url.rsplit(":", 1)[1])
    fp = unpinned_gateway.cert_fingerprint
    at = AppTest.from_function(_script_gateway, default_timeout=APP_TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any(e.startswith("certificate not trusted") for e in errors), errors
    assert "SIMULATOR" not in _texts(at)  # nothing fell back
    assert "does not answer" not in _texts(at)  # it answers; its certificate is the matter
    assert fp in [c.value for c in at.code]
    assert at.button(key="page_trust").label == "Trust this gateway"
    assert gateway_pin("127.0.0.1", port) is None

    at.button(key="page_trust").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert gateway_pin("127.0.0.1", port) == fp
    said = [s.value for s in at.success]
    assert any(f"certificate {fp} saved in {user_config_file}" in s for s in said), said
    assert "Connected and authenticated." in said
    assert not any(e.startswith("certificate not trusted") for e in (x.value for x in at.error))
    assert any(i.value.startswith("IBKR gateway · paper account DU***567") for i in at.info)
    assert "SIMULATOR" not in _texts(at)


def test_trust_refuses_when_the_certificate_changed(unpinned_gateway: Any) -> None:
    from axion_broker_ibkr.dashboard import tab_gateway
    from axion_broker_ibkr.dashboard.factory import open_session
    from axion_broker_ibkr.userconfig import gateway_pin

    session = open_session()
    try:
        assert session.gateway.status.trusted is False
        level, text = tab_gateway.trust(session, "sha256:" + "0" * 64)
    finally:
        session.close()
    assert level == "error" and "nothing was saved" in text
    assert gateway_pin("127.0.0.1", int(unpinned_gateway.root_url.rsplit(":", 1)[1])) is None


def _script_gateway() -> None:
    import streamlit as st

    from axion_broker_ibkr.dashboard.page import render

    st.session_state.setdefault("ibkr_tab", "Gateway")
    render()


def test_settings_that_cannot_be_written_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from axion_broker_ibkr.dashboard import tab_gateway
    from axion_broker_ibkr.userconfig import ENV_VAR

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv(ENV_VAR, str(blocker / "config.toml"))
    level, text = tab_gateway.save_settings({"futures_operator": "jdoe"})
    assert level == "error" and text.startswith("Not saved:") and str(blocker) in text
