"""Session quirks (REFERENCE §1, §9): 401, no bridge, ssodh/init, /accounts first, 411, idle, competing."""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable

import httpx
import pytest

from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, ACCT, OTHER, client_for, order_id_of, place

NO_BRIDGE = {"error": "Bad Request: no bridge", "statusCode": 400}


def test_logged_out_start_answers_401_everywhere_until_login(make_sim: Callable[..., SimServer]) -> None:
    sim = make_sim(logged_in=False)
    with client_for(sim) as client:
        for method, path in (
            ("POST", "/iserver/auth/status"),
            ("GET", "/portfolio/accounts"),
            ("POST", "/tickle"),
        ):
            response = client.request(method, path, json={} if method == "POST" else None)
            assert response.status_code == 401, path
            assert response.content == b""
        sim.admin.login()
        status = client.post("/iserver/auth/status", json={}).json()
        assert status["authenticated"] is True
        assert client.get("/iserver/accounts").json()["selectedAccount"] == ACCT


def test_no_bridge_until_ssodh_init(fsim: SimServer) -> None:
    fsim.admin.login(brokerage=False)
    with client_for(fsim) as client:
        assert client.post("/iserver/auth/status", json={}).json()["authenticated"] is False
        response = client.get("/iserver/accounts")
        assert (response.status_code, response.json()) == (400, NO_BRIDGE)
        assert client.get("/portfolio/accounts").status_code == 200  # the read-only session suffices
        bad = client.post("/iserver/auth/ssodh/init", json={"publish": False, "compete": True})
        assert bad.status_code == 500
        ok = client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
        assert ok.json()["authenticated"] is True
        assert client.get("/iserver/accounts").status_code == 200


def test_iserver_accounts_is_required_before_orders_and_snapshots(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        snapshot = client.get("/iserver/marketdata/snapshot", params={"conids": AAPL, "fields": "31"})
        assert snapshot.status_code == 400
        assert "accounts" in snapshot.json()["error"]
        order = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 1}
        assert client.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).status_code == 400
        assert client.get("/iserver/account/orders").status_code == 400
        client.get("/iserver/accounts")
        assert client.get("/iserver/marketdata/snapshot", params={"conids": AAPL}).status_code == 200
        # A new brokerage session needs /iserver/accounts again.
        fsim.admin.drop_brokerage()
        client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
        assert client.get("/iserver/marketdata/snapshot", params={"conids": AAPL}).status_code == 400


def test_portfolio_accounts_is_required_before_other_portfolio_calls(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        response = client.get(f"/portfolio/{ACCT}/ledger")
        assert response.status_code == 400
        assert "portfolio/accounts" in response.json()["error"]
        client.get("/portfolio/accounts")
        assert "BASE" in client.get(f"/portfolio/{ACCT}/ledger").json()


def test_post_without_content_length_is_411(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        request = client.build_request("POST", "/iserver/auth/status")
        del request.headers["Content-Length"]
        assert client.send(request).status_code == 411
        assert client.post("/iserver/auth/status", json={}).status_code == 200


def test_idle_brokerage_session_times_out_without_tickle(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        client.get("/iserver/accounts")
        fsim.admin.advance_clock(300)
        client.post("/tickle", json={})  # keeps the session alive
        fsim.admin.advance_clock(300)
        assert client.post("/iserver/auth/status", json={}).json()["authenticated"] is True
        fsim.admin.advance_clock(361)
        status = client.post("/iserver/auth/status", json={}).json()
        assert status == {
            "authenticated": False,
            "competing": False,
            "connected": False,
            "MAC": status["MAC"],
        }
        response = client.get("/iserver/accounts")
        assert (response.status_code, response.json()) == (400, NO_BRIDGE)
        assert client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True}).json()[
            "authenticated"
        ]


def test_competing_session_blocks_iserver_until_taken_over(fsim: SimServer) -> None:
    fsim.admin.competing(True)
    with client_for(fsim) as client:
        status = client.post("/iserver/auth/status", json={}).json()
        assert (status["competing"], status["authenticated"]) == (True, False)
        assert client.get("/iserver/accounts").status_code == 400
        without = client.post("/iserver/auth/ssodh/init", json={"publish": True}).json()
        assert without["competing"] is True
        assert without["fail"]
        taken = client.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True}).json()
        assert (taken["competing"], taken["authenticated"]) == (False, True)
        assert client.get("/iserver/accounts").status_code == 200


def test_tickle_reports_session_and_the_down_brokerage_variant(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        tickle = client.post("/tickle", json={}).json()
        assert len(tickle["session"]) == 32
        int(tickle["session"], 16)
        assert tickle["iserver"]["authStatus"]["authenticated"] is True
        fsim.admin.drop_brokerage()
        down = client.post("/tickle", json={}).json()
        assert down["iserver"]["tickle"] is True
        assert down["iserver"]["authStatus"]["authenticated"] is False
        assert down["session"] == tickle["session"]


def test_reauthenticate_reopens_the_brokerage_session(fsim: SimServer) -> None:
    fsim.admin.drop_brokerage()
    with client_for(fsim) as client:
        assert client.post("/iserver/reauthenticate", json={}).json() == {"message": "triggered"}
        assert client.get("/iserver/reauthenticate").json() == {"message": "triggered"}  # [conflict]: GET too
        assert client.post("/iserver/auth/status", json={}).json()["authenticated"] is True


def test_logout_and_sso_validate(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        validate = client.get("/sso/validate").json()
        assert validate["LOGIN_TYPE"] == 2  # paper
        assert validate["RESULT"] is True
        assert client.post("/logout", json={}).json() == {"status": True}
        assert client.post("/iserver/auth/status", json={}).status_code == 401


def test_auth_status_answers_get_and_post_and_the_legacy_prefix(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        assert client.get("/iserver/auth/status").json()["authenticated"] is True
        legacy = client.post(fsim.root_url + "/v1/portal/iserver/auth/status", json={})
        assert legacy.json()["authenticated"] is True


def test_switch_account_changes_what_order_status_can_see(fsim: SimServer) -> None:
    with client_for(fsim) as client:
        accounts = client.get("/iserver/accounts").json()
        assert accounts["accounts"] == [ACCT, OTHER]
        assert accounts["isPaper"] is True
        client.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o354", "o10151"]})
        order_id = order_id_of(
            place(client, {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 1})
        )
        assert client.get(f"/iserver/account/order/status/{order_id}").status_code == 200
        assert client.post("/iserver/account", json={"acctId": OTHER}).json() == {
            "set": True,
            "acctId": OTHER,
        }
        assert client.get(f"/iserver/account/order/status/{order_id}").status_code == 503
        assert client.post("/iserver/account", json={"acctId": "U999"}).status_code == 400


def test_bind_guard_refuses_non_loopback_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        SimServer(host="0.0.0.0")
    SimServer(host="0.0.0.0", allow_remote=True)  # constructing does not bind yet
    with pytest.raises(ConfigError, match="rate_scale"):
        SimServer(rate_scale=0)


def test_certificate_is_verifiable_and_pinnable(fsim: SimServer) -> None:
    assert fsim.cert_path is not None
    pem = ssl.get_server_certificate(("127.0.0.1", fsim.port))
    served = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    assert fsim.cert_fingerprint == f"sha256:{served}"
    assert ssl.PEM_cert_to_DER_cert(fsim.cert_path.read_text()) == ssl.PEM_cert_to_DER_cert(pem)
    with httpx.Client(verify=True) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(fsim.base_url + "/tickle")
