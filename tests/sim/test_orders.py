"""Order quirks (REFERENCE §4, §9): questions, replies, suppression, cOID, futures fields, cancel, lists."""

from __future__ import annotations

from typing import Any

import httpx

from axion_broker_ibkr.sim import SimServer

from .conftest import AAPL, ACCT, EURUSD, live_orders, order_id_of, place

ALL_QUESTIONS = ["o163", "o354", "o10151", "o403"]


def post_order(client: httpx.Client, order: dict[str, Any], acct: str = ACCT) -> httpx.Response:
    return client.post(f"/iserver/account/{acct}/orders", json={"orders": [order]})


def limit(price: float, qty: float = 100, side: str = "BUY", **extra: Any) -> dict[str, Any]:
    return {
        "conid": AAPL,
        "side": side,
        "orderType": "LMT",
        "price": price,
        "quantity": qty,
        "tif": "DAY",
        **extra,
    }


def pin(sim: SimServer, price: float = 200.0, conid: int = AAPL) -> float:
    """Fix a price so questions and fills are deterministic."""
    sim.admin.set_price(conid, price)
    return price


def test_limit_far_from_market_asks_o163_then_accepts(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    question = post_order(api, limit(180.0)).json()
    assert question[0]["messageIds"] == ["o163"]
    assert question[0]["isSuppressed"] is False
    assert "BUY 100 AAPL NASDAQ.NMS @ 180.0" in question[0]["message"][0]
    assert "3%" in question[0]["message"][0]
    accepted = api.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": True}).json()
    assert accepted[0]["order_status"] == "Submitted"
    assert int(accepted[0]["order_id"]) > 0


def test_market_order_questions_chain_and_market_data_removes_o354(
    fsim: SimServer, api: httpx.Client
) -> None:
    order = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 1}
    first = post_order(api, order).json()
    assert first[0]["messageIds"] == ["o354"]
    second = api.post(f"/iserver/reply/{first[0]['id']}", json={"confirmed": True}).json()
    assert second[0]["messageIds"] == ["o10151"]
    assert second[0]["id"] != first[0]["id"]
    done = api.post(f"/iserver/reply/{second[0]['id']}", json={"confirmed": True}).json()
    assert "order_id" in done[0]
    api.get("/iserver/marketdata/snapshot", params={"conids": AAPL, "fields": "31"})
    again = post_order(api, order).json()
    assert again[0]["messageIds"] == ["o10151"]


def test_suppressed_questions_are_skipped_until_reset(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    assert api.post("/iserver/questions/suppress", json={"messageIds": ["o163"]}).json() == {
        "status": "submitted"
    }
    assert "order_id" in post_order(api, limit(180.0)).json()[0]
    assert api.post("/iserver/questions/suppress/reset", json={}).json() == {"status": "submitted"}
    assert post_order(api, limit(180.0)).json()[0]["messageIds"] == ["o163"]


def test_reply_false_discards_the_order(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    question = post_order(api, limit(180.0, cOID="discard-me")).json()
    answer = api.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": False}).json()
    assert "error" in answer
    assert fsim.admin.state()["orders"] == []
    # The discarded cOID was never registered, so it can be used again.
    assert post_order(api, limit(180.0, cOID="discard-me")).json()[0]["messageIds"] == ["o163"]


def test_reply_after_another_order_is_503_unknown_or_late_is_400(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    stale = post_order(api, limit(180.0)).json()[0]["id"]
    post_order(api, limit(181.0))  # another order invalidates the pending question
    assert api.post(f"/iserver/reply/{stale}", json={"confirmed": True}).status_code == 503
    late = post_order(api, limit(182.0)).json()[0]["id"]
    fsim.admin.advance_clock(120)
    api.post("/tickle", json={})
    answer = api.post(f"/iserver/reply/{late}", json={"confirmed": True})
    assert answer.status_code == 400
    assert answer.json() == {"error": f"reply id not found: '{late}'"}
    unknown = api.post("/iserver/reply/not-a-question", json={"confirmed": True})
    assert unknown.status_code == 400
    assert unknown.json() == {"error": "reply id not found: 'not-a-question'"}


def test_coid_reused_within_a_day_is_rejected(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    assert "order_id" in post_order(api, limit(199.0, cOID="axion-1")).json()[0]
    again = post_order(api, limit(199.0, cOID="axion-1")).json()
    assert again == {"error": "Order couldn't be submitted: Local order ID=axion-1 is already registered."}
    fsim.admin.advance_clock(24 * 3600 + 1)
    api.post("/iserver/auth/ssodh/init", json={"publish": True, "compete": True})
    api.get("/iserver/accounts")
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    assert "order_id" in post_order(api, limit(199.0, cOID="axion-1")).json()[0]


def test_far_marketable_limit_is_rejected_with_ibkr_text(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    answer = post_order(api, limit(400.0)).json()
    assert answer["error"].startswith("We cannot accept an order at the limit price you selected.")
    assert "200.00" in answer["error"]


def test_futures_need_manual_indicator_and_ext_operator(fsim: SimServer, api: httpx.Client) -> None:
    es = api.get("/trsrv/futures", params={"symbols": "ES"}).json()["ES"][0]["conid"]
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    price = pin(fsim, 5000.0, es) * 0.99
    order = {"conid": es, "side": "BUY", "orderType": "LMT", "price": price, "quantity": 1, "tif": "DAY"}
    refused = post_order(api, order).json()
    assert "manualIndicator" in refused["error"]
    accepted = post_order(api, {**order, "manualIndicator": False, "extOperator": "axion-bot"}).json()
    order_id = order_id_of(accepted)
    assert "error" in api.delete(f"/iserver/account/{ACCT}/order/{order_id}").json()
    ack = api.delete(
        f"/iserver/account/{ACCT}/order/{order_id}",
        params={"manualIndicator": "false", "extOperator": "axion-bot"},
    ).json()
    assert ack["msg"] == "Request was submitted"


def test_invalid_tickets_name_the_field(fsim: SimServer, api: httpx.Client) -> None:
    no_side = post_order(api, {"conid": AAPL, "orderType": "MKT", "quantity": 1})
    assert no_side.status_code == 400
    assert "side" in no_side.json()["error"]
    no_price = post_order(api, {"conid": AAPL, "side": "BUY", "orderType": "LMT", "quantity": 1})
    assert "price" in no_price.json()["error"]
    unknown = post_order(api, {"conid": 1, "side": "BUY", "orderType": "MKT", "quantity": 1}).json()
    assert "contract" in unknown["error"].lower()
    not_wrapped = api.post(f"/iserver/account/{ACCT}/orders", json={"order": {}})
    assert not_wrapped.status_code == 400
    two = api.post(f"/iserver/account/{ACCT}/orders", json={"orders": [limit(199.0), limit(198.0)]}).json()
    assert "one order" in two["error"]


def test_bare_array_body_is_accepted_too(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    answer = api.post(f"/iserver/account/{ACCT}/orders", json=[limit(180.0)]).json()
    assert answer[0]["messageIds"] == ["o163"]


def test_cancel_is_acknowledged_then_confirmed_and_minus_one_cancels_all(
    fsim: SimServer, api: httpx.Client
) -> None:
    pin(fsim)
    fsim.admin.pause_market()  # cancels are confirmed on the next tick: tick by hand
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    first = order_id_of(post_order(api, limit(150.0)).json())
    second = order_id_of(post_order(api, limit(151.0)).json())
    ack = api.delete(f"/iserver/account/{ACCT}/order/{first}").json()
    assert ack == {"msg": "Request was submitted", "order_id": first, "conid": AAPL, "account": ACCT}
    statuses = {o["orderId"]: o["status"] for o in live_orders(api)}
    assert statuses[first] == "PendingCancel"
    fsim.admin.tick()
    assert api.get(f"/iserver/account/order/status/{first}").json()["order_status"] == "Cancelled"
    everything = api.delete(f"/iserver/account/{ACCT}/order/-1").json()
    assert everything["msg"] == "Request was submitted"
    fsim.admin.tick()
    assert api.get(f"/iserver/account/order/status/{second}").json()["order_status"] == "Cancelled"
    assert api.delete(f"/iserver/account/{ACCT}/order/12345").json() == {
        "error": "OrderID 12345 doesn't exist"
    }


def test_modify_takes_a_bare_object_and_can_ask_questions(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    api.post("/iserver/questions/suppress", json={"messageIds": ["o354", "o10151"]})
    order_id = order_id_of(post_order(api, limit(199.0)).json())
    url = f"/iserver/account/{ACCT}/order/{order_id}"
    modified = api.post(url, json=limit(198.5)).json()
    assert modified[0]["order_id"] == str(order_id)
    assert api.get(f"/iserver/account/order/status/{order_id}").json()["limit_price"] == "198.50"
    question = api.post(url, json=limit(150.0)).json()
    assert question[0]["messageIds"] == ["o163"]
    api.post(f"/iserver/reply/{question[0]['id']}", json={"confirmed": True})
    assert api.get(f"/iserver/account/order/status/{order_id}").json()["limit_price"] == "150.00"
    assert api.post(url, json={"orders": [limit(150.0)]}).status_code == 400


def test_live_orders_preflight_force_and_filters(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    order_id = order_id_of(post_order(api, limit(150.0)).json())
    assert api.get("/iserver/account/orders").json() == {"orders": [], "snapshot": True}  # first call
    listed = api.get("/iserver/account/orders").json()["orders"]
    assert [o["orderId"] for o in listed] == [order_id]
    assert api.get("/iserver/account/orders", params={"force": "true"}).json()["orders"] == []
    assert [o["orderId"] for o in api.get("/iserver/account/orders").json()["orders"]] == [order_id]
    assert api.get("/iserver/account/orders", params={"filters": "Submitted"}).status_code == 500
    filtered = api.get("/iserver/account/orders", params={"filters": "filled"}).json()["orders"]
    assert filtered == []
    assert (
        api.get("/iserver/account/orders", params={"filters": "submitted"}).json()["orders"][0]["orderId"]
        == order_id
    )


def test_order_status_of_unknown_order_is_503(fsim: SimServer, api: httpx.Client) -> None:
    assert api.get("/iserver/account/order/status/42").status_code == 503


def test_whatif_answers_formatted_strings(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    order = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 200.0, "quantity": 10, "tif": "DAY"}
    answer = api.post(f"/iserver/account/{ACCT}/orders/whatif", json={"orders": [order]}).json()
    assert answer["amount"]["amount"] == "2,000.00 USD (10 Shares)"
    assert answer["position"] == {"current": "0", "change": "10", "after": "10"}
    assert answer["warn"].startswith("21/")
    assert answer["error"] is None
    assert fsim.admin.state()["orders"] == []  # a preview places nothing


def test_forex_accepts_conid_and_conidex(fsim: SimServer, api: httpx.Client) -> None:
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    rate = pin(fsim, 1.1, EURUSD)
    before = api.get(f"/portfolio/{ACCT}/ledger").json()["EUR"]["cashbalance"]
    for ident in ({"conid": EURUSD}, {"conidex": f"{EURUSD}@IDEALPRO"}):
        order = {**ident, "side": "BUY", "orderType": "MKT", "quantity": 20000, "tif": "DAY"}
        assert "order_id" in place(api, order)[0]
    ledger = api.get(f"/portfolio/{ACCT}/ledger").json()
    assert ledger["EUR"]["cashbalance"] == before + 40000
    assert ledger["EUR"]["exchangerate"] == rate
    listed = [o for o in live_orders(api) if o["conid"] == EURUSD]
    assert {o["conidex"] for o in listed} == {f"{EURUSD}@IDEALPRO"}


def test_bracket_children_wait_for_the_parent_and_cancel_each_other(
    fsim: SimServer, api: httpx.Client
) -> None:
    pin(fsim)
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    orders = [
        {
            "conid": AAPL,
            "side": "BUY",
            "orderType": "LMT",
            "price": 150.0,
            "quantity": 10,
            "cOID": "parent-1",
        },
        {
            "conid": AAPL,
            "side": "SELL",
            "orderType": "STP",
            "price": 140.0,
            "quantity": 10,
            "parentId": "parent-1",
        },
        {
            "conid": AAPL,
            "side": "SELL",
            "orderType": "LMT",
            "price": 210.0,
            "quantity": 10,
            "parentId": "parent-1",
        },
    ]
    ids = [
        int(a["order_id"])
        for a in api.post(f"/iserver/account/{ACCT}/orders", json={"orders": orders}).json()
    ]
    status = {o["orderId"]: o["status"] for o in live_orders(api)}
    assert [status[i] for i in ids] == ["Submitted", "PreSubmitted", "PreSubmitted"]
    fsim.admin.set_price(AAPL, 149.0)  # parent crosses and fills
    fsim.admin.set_price(AAPL, 211.0)  # take-profit fills, the stop is cancelled (OCA)
    final = {i: api.get(f"/iserver/account/order/status/{i}").json()["order_status"] for i in ids}
    assert final == {ids[0]: "Filled", ids[1]: "Cancelled", ids[2]: "Filled"}


def test_path_account_is_authoritative(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    mismatch = post_order(api, limit(199.0, acctId="DU7654321")).json()
    assert "does not match" in mismatch["error"]
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    order_id_of(post_order(api, limit(199.0), acct="DU7654321").json())
    assert [o["acct"] for o in fsim.admin.state()["orders"]] == ["DU7654321"]


def test_day_orders_expire_with_the_day_gtc_orders_stay(fsim: SimServer, api: httpx.Client) -> None:
    pin(fsim)
    api.post("/iserver/questions/suppress", json={"messageIds": ALL_QUESTIONS})
    day = order_id_of(post_order(api, limit(150.0)).json())
    gtc = order_id_of(post_order(api, limit(150.0, tif="GTC")).json())
    fsim.admin.config(idle_timeout=10**9)
    fsim.admin.advance_clock(86400)
    statuses = {o["orderId"]: o["status"] for o in fsim.admin.state()["orders"]}
    assert statuses == {day: "Cancelled", gtc: "Submitted"}


def test_every_answer_says_it_comes_from_the_simulator(fsim: SimServer, api: httpx.Client) -> None:
    assert api.post("/iserver/auth/status", json={}).headers["x-axion-simulator"] == "axion-broker-ibkr"
    assert api.get("/no/such/path").headers["x-axion-simulator"] == "axion-broker-ibkr"
