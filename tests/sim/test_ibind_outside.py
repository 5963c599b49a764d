"""Issue 16.7, the outside check: ibind 0.2.2 -- the most used independent Client Portal client --
run unmodified against the simulator, over REST and over its WebSocket channels.

Pacing is IBKR's own (``rate_scale=1``): ibind's call patterns must pass as they pass against real
gateways, and the simulator must have answered no request with 429. ibind is a test dependency
(the ``test`` extra): without it these tests are skipped locally and fail in CI (``skip_or_fail``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from axion_broker_ibkr.sim import SimServer
from tests.conftest import skip_or_fail

from .conftest import AAPL, ACCT


def _ibind() -> Any:
    """ibind, the outside check (a test dependency): skipped locally without it, a failure in CI."""
    try:
        import ibind
    except ImportError:
        skip_or_fail("ibind is not installed (pip install -e '.[test]')")
    return ibind


@pytest.fixture
def ibind_sim(make_sim: Callable[..., SimServer]) -> Iterator[SimServer]:
    sim = make_sim(rate_scale=1.0)
    yield sim
    assert sim.admin.state()["pacing"]["too_many_requests"] == {}, "ibind's calls were paced out"


class _Paced:
    """ibind's client with every call spaced 0.11 s: IBKR's 10 requests per second overall is
    a limit a real gateway enforces too (the test's own call rate, not an ibind pattern)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def paced(*args: Any, **kwargs: Any) -> Any:
            time.sleep(0.11)
            return attr(*args, **kwargs)

        return paced


def _rest(ibind: Any, sim: SimServer) -> Any:
    return ibind.IbkrClient(
        url=sim.base_url.rstrip("/") + "/", cacert=str(sim.cert_path), account_id=ACCT, use_session=True
    )


def _far_limit(ibind: Any, client: Any, coid: str) -> Any:
    """A resting buy 20 % under the market: the gateway asks o163, ibind answers it."""
    snap = client.live_marketdata_snapshot([str(AAPL)], ["31"]).data
    for _ in range(20):
        if snap and "31" in snap[0]:
            break
        time.sleep(0.1)
        snap = client.live_marketdata_snapshot([str(AAPL)], ["31"]).data
    last = float(str(snap[0]["31"]).lstrip("CH"))
    order = ibind.OrderRequest(
        conid=AAPL, side="BUY", quantity=1, order_type="LMT", price=round(last * 0.8, 2), acct_id=ACCT,
        coid=coid, tif="DAY",
    )  # fmt: skip
    answers = {ibind.QuestionType.PRICE_PERCENTAGE_CONSTRAINT: True}
    return client.place_order(order, answers, ACCT).data


def test_ibinds_rest_calls(ibind_sim: SimServer) -> None:
    ibind = _ibind()
    client = _Paced(_rest(ibind, ibind_sim))
    try:
        assert client.tickle().data["session"]
        accounts = client.portfolio_accounts().data
        assert accounts[0]["accountId"] == ACCT
        assert ACCT in client.receive_brokerage_accounts().data["accounts"]
        assert client.positions(ACCT, 0).data
        assert "netliquidation" in client.portfolio_summary(ACCT).data
        assert "BASE" in client.get_ledger(ACCT).data
        assert client.security_stocks_by_symbol("AAPL").data["AAPL"]
        found = client.search_contract_by_symbol("AAPL").data
        assert str(found[0]["conid"]) == str(AAPL)
        month = next(s for s in found[0]["sections"] if s["secType"] == "OPT")["months"].split(";")[0]
        strikes = client.search_strikes_by_conid(str(AAPL), "OPT", month).data
        strike = strikes["call"][len(strikes["call"]) // 2]
        info = client.search_secdef_info_by_conid(str(AAPL), "OPT", month, strike=str(strike), right="C").data
        assert info and info[0]["right"] == "C"
        history = client.marketdata_history_by_conid(str(AAPL), bar="1d", period="1w").data
        assert history["data"]
        placed = _far_limit(ibind, client, "ibind-rest-1")
        order_id = str(placed["order_id"] if isinstance(placed, dict) else placed[0]["order_id"])
        # REFERENCE §9.11: the first live-orders answer of a session may be empty; ask again (the
        # endpoint's bucket holds two calls)
        live = client.live_orders().data
        if not live.get("orders"):
            time.sleep(0.3)
            live = client.live_orders().data
        assert any(str(o["orderId"]) == order_id for o in live["orders"])
        cancelled = client.cancel_order(order_id, ACCT).data
        assert str(cancelled["order_id"]) == order_id
        # ibind sends the conid as a query parameter (the documented form is a body): both are taken
        unsubscribed = client.marketdata_unsubscribe([str(AAPL)])
        assert unsubscribed[str(AAPL)].data == {"success": True}
        pnl = client.account_profit_and_loss().data
        assert {"dpl", "nl", "upl", "el", "uel", "mv"} <= set(pnl["upnl"][f"{ACCT}.Core"])
        summary = client.account_summary(ACCT).data
        assert summary["netLiquidationValue"] > 0
    finally:
        client.close()


def test_ibinds_websocket_channels(ibind_sim: SimServer) -> None:
    """ibind 0.2.2's WebSocket client: market data, orders (one placed over REST), P&L, account
    summary, ledger and market history, each subscription confirmed as ibind expects."""
    ibind = _ibind()
    subs, ev = ibind.subscriptions, ibind.events
    raw = _rest(ibind, ibind_sim)
    client = _Paced(raw)
    sink = ibind.QueueSink()
    ws = ibind.IbkrWsClient(
        url=ibind_sim.base_url.replace("https://", "wss://", 1).rstrip("/") + "/ws",
        ibkr_client=raw,
        account_id=ACCT,
        cacert=str(ibind_sim.cert_path),
        sink=sink,
    )
    kinds = (ev.MarketData, ev.Orders, ev.Pnl, ev.AccountSummary, ev.AccountLedger, ev.MarketHistory)
    queues = {k: sink.new_queue_accessor(k) for k in kinds}
    subscriptions = [
        subs.MarketDataSubscription(conid=str(AAPL), fields=["31", "84", "86", "88", "85"]),
        subs.OrdersSubscription(),
        subs.PnlSubscription(),
        subs.AccountSummarySubscription(account_id=ACCT),
        subs.AccountLedgerSubscription(account_id=ACCT),
        subs.MarketHistorySubscription(conid=str(AAPL), period="1d", bar="1h", source="trades"),
    ]
    try:
        assert ws.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ws.is_authenticated():
            time.sleep(0.05)
        assert ws.is_authenticated()
        handles = [ws.subscribe(s) for s in subscriptions]
        assert ws.wait_all(handles, timeout_each=10) == [], "subscriptions not confirmed"
        client.receive_brokerage_accounts()
        placed = _far_limit(ibind, client, "ibind-ws-1")
        order_id = str(placed["order_id"] if isinstance(placed, dict) else placed[0]["order_id"])

        got: dict[Any, list[Any]] = {k: [] for k in kinds}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for k, qa in queues.items():
                while not qa.empty():
                    got[k].append(qa.get())
            if all(got.values()) and order_id in _order_ids(got[ev.Orders]):
                break
            time.sleep(0.1)
        missing = [k.__name__ for k, v in got.items() if not v]
        assert not missing, f"no events of {missing}"
        assert order_id in _order_ids(got[ev.Orders]), got[ev.Orders][:3]
        assert any({"last_price", "bid_price"} & set(e.data) for e in got[ev.MarketData])  # ibind's names
        assert any(f"{ACCT}.Core" in str(e.data) for e in got[ev.Pnl])
        assert any(e.data.get("data") and e.data.get("serverId") for e in got[ev.MarketHistory])
        client.cancel_order(order_id, ACCT)
        # ibind waits for the confirmations IBKR gives (usd, uld, and umh by the smh serverId)
        assert ws.wait_all([ws.unsubscribe(s) for s in subscriptions], timeout_each=10) == []
    finally:
        ws.shutdown()
        raw.close()


def _order_ids(events: list[Any]) -> set[str]:
    """Order ids in ibind ``Orders`` events (their ``data`` holds the ``sor`` frame's orders)."""
    ids: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "orderId" in value:
                ids.add(str(value["orderId"]))
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for e in events:
        walk(e.data)
    return ids
