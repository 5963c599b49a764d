"""Fault injection and test controls under /sim/ (never under /v1/api)."""

from __future__ import annotations

import httpx
import pytest

from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, ACCT, client_for, trust


def test_fail_next_calls_with_a_status_and_prefix(fsim: SimServer, api: httpx.Client) -> None:
    fsim.admin.fail(status=503, count=2, path_prefix="/iserver/marketdata")
    assert api.get("/portfolio/accounts").status_code == 200  # other paths are unaffected
    first = api.get("/iserver/marketdata/snapshot", params={"conids": AAPL})
    assert (first.status_code, first.json()["statusCode"]) == (503, 503)
    assert api.get("/iserver/marketdata/snapshot", params={"conids": AAPL}).status_code == 503
    assert api.get("/iserver/marketdata/snapshot", params={"conids": AAPL}).status_code == 200
    fsim.admin.fail(status=429, count=1)
    limited = api.post("/tickle", json={})
    assert limited.status_code == 429
    assert "error" in limited.json()
    with pytest.raises(ValueError, match="status"):
        fsim.admin.fail(status=200)


def test_latency_makes_impatient_clients_time_out(fsim: SimServer) -> None:
    fsim.admin.latency(2000)
    with client_for(fsim, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/iserver/auth/status", json={})
    fsim.admin.latency(0)
    with client_for(fsim) as client:
        assert client.post("/iserver/auth/status", json={}).status_code == 200


def test_timeout_next_order_accepts_then_stalls(fsim: SimServer, api: httpx.Client) -> None:
    api.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o354", "o10151"]})
    fsim.admin.timeout_next_order()
    order = {
        "conid": AAPL,
        "side": "BUY",
        "orderType": "LMT",
        "price": 1.0,
        "quantity": 1,
        "cOID": "stalled-1",
    }
    with client_for(fsim, timeout=0.5) as impatient:
        impatient.get("/iserver/accounts")
        with pytest.raises(httpx.ReadTimeout):
            impatient.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})
    orders = fsim.admin.state()["orders"]
    assert [(o["order_ref"], o["status"]) for o in orders] == [("stalled-1", "Submitted")]
    # The fault is one-shot; re-sending the same cOID is refused, which is how clients find out.
    again = api.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).json()
    assert "already registered" in again["error"]


def test_timeout_next_order_stall_length_is_a_parameter(fsim: SimServer, api: httpx.Client) -> None:
    api.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o354", "o10151"]})
    for bad in (0, -1, "soon"):
        with pytest.raises(ValueError, match="seconds"):
            fsim.admin.timeout_next_order(seconds=bad)  # type: ignore[arg-type]
    assert fsim.admin.timeout_next_order(seconds=0.2) == {"timeout_next_order": True, "seconds": 0.2}
    assert fsim.admin.state()["faults"]["stall_s"] == 0.2
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 1.0, "quantity": 1, "cOID": "short"}
    # A patient client gets the (late) answer once the short stall is over; the fault is one-shot.
    answer = api.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]})
    assert answer.status_code == 200 and "order_id" in answer.json()[0]
    assert fsim.admin.state()["faults"]["timeout_next_order"] is False


def test_advance_clock_and_reset(fsim: SimServer, api: httpx.Client) -> None:
    before = fsim.admin.state()["clock"]["now_ms"]
    moved = fsim.admin.advance_clock(120)
    assert moved["now_ms"] - before >= 120_000
    assert moved["offset_s"] == 120
    with pytest.raises(ValueError, match="seconds"):
        fsim.admin.advance_clock(-1)
    fsim.admin.set_position(AAPL, 42, avg_price=100.0)
    assert fsim.admin.state()["positions"][ACCT][str(AAPL)]["position"] == 42
    fsim.admin.reset()
    state = fsim.admin.state()
    assert str(AAPL) not in state["positions"][ACCT]
    assert state["orders"] == []
    assert state["session"]["accounts_called"] is False


def test_fill_and_set_price_validate_their_input(fsim: SimServer, api: httpx.Client) -> None:
    with pytest.raises(ValueError, match="conid"):
        fsim.admin.set_price(1, 10.0)
    with pytest.raises(ValueError, match="price"):
        fsim.admin.set_price(AAPL, -1.0)
    with pytest.raises(ValueError, match="order_id"):
        fsim.admin.fill(99)
    api.post("/iserver/questions/suppress", json={"messageIds": ["o163"]})
    fsim.admin.set_price(AAPL, 200.0)
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 150.0, "quantity": 10}
    order_id = api.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}).json()[0]["order_id"]
    assert fsim.admin.fill(order_id, quantity=4)["quantity"] == 4
    status = api.get(f"/iserver/account/order/status/{order_id}").json()
    assert (status["cum_fill"], status["order_status"]) == ("4.0", "Submitted")
    fsim.admin.fill(order_id)
    assert api.get(f"/iserver/account/order/status/{order_id}").json()["order_status"] == "Filled"


def test_admin_lives_outside_the_api_and_rejects_unknown_paths(fsim: SimServer) -> None:
    with httpx.Client(verify=trust(fsim)) as client:
        assert client.get(fsim.base_url + "/sim/state").status_code == 404
        unknown = client.post(fsim.root_url + "/sim/explode", json={})
        assert unknown.status_code == 404
        assert "reset" in unknown.json()["known"]
        assert client.post(fsim.root_url + "/sim/latency", content=b"[1]").status_code == 400
        assert client.get(fsim.root_url + "/").status_code == 200


def test_login_logout_via_admin(fsim: SimServer) -> None:
    fsim.admin.logout()
    with client_for(fsim) as client:
        assert client.post("/iserver/auth/status", json={}).status_code == 401
        fsim.admin.login(brokerage=False)
        assert client.post("/iserver/auth/status", json={}).json()["authenticated"] is False


def test_a_running_simulator_keeps_no_private_key_on_disk() -> None:
    # The key is in the TLS context once the server listens; a simulator killed without stop()
    # must not leave it in the temporary directory.
    from axion_broker_ibkr.sim import SimServer

    with SimServer() as sim:
        assert sim.cert_path is not None and sim.cert_path.exists()
        assert not (sim.cert_path.parent / "key.pem").exists()
        assert sim.admin.state()  # still serves TLS
