"""Sessions heal (issue 12, item 2, first part): after an SSO re-login the gateway answers
"Please query /accounts first" / "Please query /portfolio/accounts first"; the client runs IBKR's
start-up sequence again by itself and the caller never sees the precondition message."""

from __future__ import annotations

from typing import Any

from axion_broker_ibkr.errors import SessionPreconditionError
from axion_broker_ibkr.ops import effects
from tests.client.conftest import call, sim_client

AAPL = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}


def _relogin(sim: Any) -> None:
    sim.admin.logout()
    sim.admin.login()  # a fresh brokerage session: /iserver/accounts and /portfolio/accounts not yet asked


async def test_account_reads_heal_after_a_relogin(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim)
    try:
        before = await call(client.account_summary())
        assert before
        _relogin(fault_sim)
        after = await call(client.account_summary())  # "Please query /portfolio/accounts first" healed
        assert set(after) == set(before)
        assert client.reauthentications == 1
        assert await call(client.positions()) is not None
    finally:
        await call(client.close())


async def test_an_order_after_a_relogin_is_placed_once(kind: str, fault_sim: Any) -> None:
    client = sim_client(kind, fault_sim, auto_confirm=("o163",))  # the price is far from the market
    order = {"symbol": "AAPL", "side": "buy", "qty": 1, "order_type": "limit", "limit_price": 100.0,
             "time_in_force": "day", "asset_type": "stock"}  # fmt: skip
    try:
        await call(client.account_summary())
        await call(client.live_orders())  # primes the order list in this brokerage session
        _relogin(fault_sim)
        result = await call(client.place_order(order, AAPL))  # "Please query /accounts first" healed
        assert result.order_id and result.status != "rejected"
        assert client.reauthentications == 1
        assert not client.state.orders_primed  # the new session's order list is primed again
        live = await call(client.live_orders())
        assert len([o for o in live if o.client_order_id == result.client_order_id]) == 1
    finally:
        await call(client.close())


def test_precondition_answers_are_classified() -> None:
    req = effects.Request(method="GET", path="/portfolio/DU1/summary")
    for text in ("Please query /accounts first", "Please query /portfolio/accounts first"):
        error = effects.error_for(req, effects.Response(400, {"error": text}, ""), login_url="https://x/")
        assert isinstance(error, SessionPreconditionError)


async def test_a_derivative_search_heals_after_ibkr_dropped_the_brokerage_session(
    kind: str, fault_sim: Any
) -> None:
    # QA: after a timed-out brokerage session (as after IBKR's nightly reset) the first call of a
    # futures/option/bond lookup is /iserver/accounts (iserver.ensure_accounts), one of the start-up
    # sequence's own paths; its "no bridge" answer must re-open the session, not reach the trader.
    client = sim_client(kind, fault_sim)
    try:
        assert await call(client.search("ES", "FUT"))
        fault_sim.admin.drop_brokerage(timed_out=True)
        client.state.reset()  # a fresh process / new session: the lookup starts with /iserver/accounts
        results = await call(client.search("ES", "FUT"))
        assert results
        assert client.reauthentications == 1
    finally:
        await call(client.close())
