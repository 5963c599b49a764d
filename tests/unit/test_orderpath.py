"""The order path without a client or a socket (issue 13 items 4 and 5): the checks that protect
money (mode, ``auto`` fallback, live-account opt-in) are plain functions of plain values, and the
path's operations refuse before any request or order-log write; the order ticket is written and
read back through the wire layer; the settle fields are one value."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr import models as m
from axion_broker_ibkr.errors import LiveTradingNotAllowedError, ModeError, OrderValidationError
from axion_broker_ibkr.ops import effects as fx
from axion_broker_ibkr.ops import groupflow, orderpath
from axion_broker_ibkr.ops.journal import Settlement
from axion_broker_ibkr.orders import translate_order
from axion_broker_ibkr.store.memory import MemoryJournal
from axion_broker_ibkr.wire import convert

PAPER, LIVE = "DU1234567", "U7654321"
AAPL = {"conid": 265598, "symbol": "AAPL", "sec_type": "STK", "exchange": "NASDAQ", "rules_source": "test"}
ORDER = {"symbol": "AAPL", "side": "buy", "order_type": "limit", "qty": 5, "limit_price": 190.0}


def settings(**kw: Any) -> orderpath.OrderSettings:
    return orderpath.OrderSettings(**{"mode": "sim", **kw})


def desk(
    make: Callable[[], orderpath.OrderSettings], accounts: tuple[str, ...] = (PAPER,)
) -> orderpath.OrderDesk:
    state = fx.SessionState(accounts=m.IServerAccounts(accounts=list(accounts), selected_account=accounts[0]))
    return orderpath.OrderDesk(state=state, settings=make)


def drive(op: fx.Op[Any], answer: Callable[[fx.Request], Any] = lambda _r: []) -> tuple[list[Any], Any]:
    """Run an operation; every effect it yields is kept, requests are answered by ``answer``."""
    effects: list[Any] = []
    value: Any = None
    while True:
        try:
            effect = op.send(value)
        except StopIteration as stop:
            return effects, stop.value
        except Exception as exc:
            return effects, exc
        effects.append(effect)
        value = fx.Response(200, answer(effect)) if isinstance(effect, fx.Request) else None


# --------------------------------------------------------------------------------------------
# The checks, as functions of plain values


def test_an_order_meant_for_another_mode_is_refused() -> None:
    with pytest.raises(ModeError, match="meant for mode 'gateway'"):
        orderpath.check_target(settings(mode="sim"), {**ORDER, "mode": "gateway"}, PAPER)
    orderpath.check_target(settings(mode="sim"), {**ORDER, "mode": "sim"}, PAPER)  # same mode: fine


@pytest.mark.parametrize(
    ("configured", "named"), [(PAPER, None), (None, PAPER)], ids=["configured", "named in the order"]
)
def test_a_real_account_is_refused_after_the_fallback_to_the_simulator(
    configured: str | None, named: str | None
) -> None:
    order = {**ORDER, **({"account_id": named} if named else {})}
    with pytest.raises(ModeError, match="fell back to the simulator"):
        orderpath.check_target(settings(fallback=True, configured_account=configured), order, PAPER)
    # Without a named account the simulator's own account takes the order.
    orderpath.check_target(settings(fallback=True), ORDER, PAPER)


def test_a_live_account_needs_the_opt_in() -> None:
    with pytest.raises(LiveTradingNotAllowedError, match="allow_live_trading"):
        orderpath.check_target(settings(mode="gateway"), ORDER, LIVE)
    orderpath.check_target(settings(mode="gateway", allow_live_trading=True), ORDER, LIVE)
    orderpath.check_target(settings(mode="gateway"), ORDER, PAPER)


def test_the_order_context_carries_the_settings_policy() -> None:
    ctx = orderpath.order_context(
        settings(auto_confirm=frozenset({"o163"}), max_rounds=3), {**ORDER, "colour": "red"}, PAPER, ["O354"]
    )
    assert (ctx.account_id, ctx.mode, ctx.max_rounds) == (PAPER, "sim", 3)
    assert ctx.answers_yes(["o163", "o354"]) and not ctx.answers_yes(["o10151"])
    assert ctx.ignored_keys == ("colour",)


# --------------------------------------------------------------------------------------------
# The operations refuse before anything is sent or logged


@pytest.mark.parametrize(
    ("made", "order", "error"),
    [
        (settings(fallback=True), {**ORDER, "account_id": PAPER}, ModeError),
        (settings(mode="gateway"), {**ORDER, "account_id": LIVE}, LiveTradingNotAllowedError),
        (settings(mode="sim"), {**ORDER, "mode": "gateway"}, ModeError),
    ],
    ids=["fallback", "live account", "mode"],
)
def test_place_and_modify_refuse_before_any_request_or_log_write(
    made: orderpath.OrderSettings, order: dict[str, Any], error: type[Exception]
) -> None:
    accounts = (LIVE,) if order.get("account_id") == LIVE else (PAPER,)
    for op in (
        orderpath.place(desk(lambda: made, accounts), order, AAPL),
        orderpath.modify(desk(lambda: made, accounts), "1234567890", order, AAPL),
        orderpath.payload(desk(lambda: made, accounts), order, AAPL),
        orderpath.whatif_order(desk(lambda: made, accounts), order, AAPL),
    ):
        effects, outcome = drive(op)
        assert isinstance(outcome, error)
        assert not [e for e in effects if not isinstance(e, fx.Request) or e.method != "GET"]


def test_the_settings_are_read_after_the_account_so_a_resolved_fallback_is_seen() -> None:
    # ``auto`` resolves on the first request: before it the client says mode "auto", no fallback.
    resolved = {"done": False}

    def make() -> orderpath.OrderSettings:
        if resolved["done"]:
            return settings(fallback=True, configured_account=PAPER)
        return settings(mode="auto", configured_account=PAPER)

    d = orderpath.OrderDesk(state=fx.SessionState(), settings=make)

    def answer(req: fx.Request) -> Any:
        resolved["done"] = True
        return {"accounts": [PAPER], "selectedAccount": PAPER}

    effects, outcome = drive(orderpath.place(d, {**ORDER, "account_id": None}, AAPL), answer)
    assert isinstance(outcome, ModeError)
    assert all(isinstance(e, fx.Request) and "/orders" not in e.path for e in effects)


def test_an_invalid_group_is_refused_before_anything_is_sent_even_when_questions_are_held() -> None:
    # Groups may hold IBKR's questions (issue 15); a leg on the wrong side is still refused first.
    bracket = {**ORDER, "take_profit": {"limit_price": 150.0}, "stop_loss": {"stop_price": 180.0}}
    effects, outcome = drive(groupflow.place_group_order(desk(lambda: settings()), bracket, AAPL, hold=True))
    assert isinstance(outcome, OrderValidationError) and "take_profit" in outcome.field
    assert effects == []


def test_answering_a_question_nobody_holds_names_the_order() -> None:
    effects, outcome = drive(orderpath.answer_held(desk(lambda: settings()), "AX-none", True))
    assert isinstance(outcome, OrderValidationError) and outcome.field == "client_order_id"
    assert effects == []


# --------------------------------------------------------------------------------------------
# Wire names in one place; one settle value


def test_the_ticket_is_written_and_read_back_through_the_wire_layer() -> None:
    ticket = translate_order({**ORDER, "client_order_id": "AX-1"}, AAPL)
    terms = convert.ticket_terms(ticket)
    assert (terms.client_order_id, terms.conid, terms.side, terms.order_type) == (
        "AX-1",
        265598,
        "BUY",
        "LMT",
    )
    assert (terms.quantity, terms.price, terms.listing_exchange, terms.tif) == (5.0, 190.0, "NASDAQ", "DAY")
    again = convert.with_client_order_id(ticket, "AX-2")
    assert (
        convert.ticket_terms(again).client_order_id == "AX-2"
        and ticket[convert.WIRE_CLIENT_ORDER_ID] == "AX-1"
    )
    assert convert.ticket_terms(convert.without_client_order_id(ticket)).client_order_id is None


def test_a_forex_ticket_is_read_back_by_its_conidex() -> None:
    fx = {"conid": 12087792, "symbol": "EUR", "currency": "USD", "sec_type": "CASH", "rules_source": "test"}
    ticket = translate_order({"symbol": "EUR.USD", "side": "buy", "order_type": "market", "qty": 20000}, fx)
    assert convert.ticket_terms(ticket).conid == "12087792"
    entry = orderpath.journal_entry(ticket, fx, orderpath.order_context(settings(), {}, PAPER))
    assert (entry.conid, entry.symbol) == (12087792, "EUR.USD")


def test_one_settlement_settles_the_row() -> None:
    journal = MemoryJournal()
    ticket = translate_order({**ORDER, "client_order_id": "AX-1"}, AAPL)
    ctx = orderpath.order_context(settings(), ORDER, PAPER)
    orderpath.record(journal, fx.RecordPending(orderpath.journal_entry(ticket, AAPL, ctx)))
    result = m.OrderResult(
        order_id="42", client_order_id="AX-1", status="filled", ibkr_status="Filled", fill_qty=5.0,
        fill_price=190.0, mode="sim", account_id=PAPER,
    )  # fmt: skip
    settlement = orderpath.result_settlement(result, [{"note": "t"}])
    assert settlement == Settlement(
        status="filled", order_id="42", ibkr_status="Filled", filled_quantity=5.0, avg_fill_price=190.0,
        transcript=[{"note": "t"}],
    )  # fmt: skip
    orderpath.record(journal, fx.RecordResult("AX-1", settlement))
    row = journal.get("AX-1")
    assert row is not None
    assert (row.status, row.order_id, row.ibkr_status, row.filled_quantity, row.avg_fill_price) == (
        "filled", "42", "Filled", 5.0, 190.0,
    )  # fmt: skip
    assert orderpath.result_settlement(result, [], fills=False).filled_quantity is None
    assert orderpath.record(None, fx.RecordResult("AX-1", settlement)) is None  # no log: nothing


ORDER_PATH_MODULES = (
    "ops/orderpath", "ops/groupflow", "orders/writer", "ops/journal", "drivers/client_base",
    "dashboard/vm_trading",
)  # fmt: skip


@pytest.mark.parametrize("module", ORDER_PATH_MODULES)
def test_the_order_path_spells_no_ticket_key(module: str) -> None:
    # The ticket's wire names that are not also plain words (conid, side, quantity, tif, price).
    names = {w for w in convert.CPAPI_ORDER_WIRE_NAMES.values() if not w.islower()} | {"cashQty"}
    source = (Path(orderpath.__file__).parents[1] / f"{module}.py").read_text(encoding="utf-8")
    spelled = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
    }
    assert not spelled, f"{module} spells {sorted(spelled)}: read and write the ticket through convert"


# --------------------------------------------------------------------------------------------
# One module for one order; groups build on it, one way


def _imports(module: str) -> tuple[set[str], list[int]]:
    """The modules ``ops/<module>.py`` imports at the top, and the lines of any import inside a
    function (a lazy import would hide the layering)."""
    tree = ast.parse((Path(orderpath.__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            top.add("." * node.level + (node.module or ""))
            top.update("." * node.level + a.name for a in node.names if node.module is None)
    nested = [
        n.lineno
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        for n in ast.walk(f)
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    return top, nested


def test_the_group_flow_builds_on_the_order_path_and_not_the_other_way() -> None:
    path_imports, path_lazy = _imports("orderpath")
    group_imports, group_lazy = _imports("groupflow")
    assert not any(name.endswith("groupflow") for name in path_imports)
    assert ".orderpath" in group_imports
    assert path_lazy == [] and group_lazy == []
    assert not (Path(orderpath.__file__).parent / "orderflow.py").exists()


def test_the_order_path_refuses_a_group_which_the_group_flow_places() -> None:
    bracket = {**ORDER, "take_profit": {"limit_price": 200.0}, "stop_loss": {"stop_price": 180.0}}
    effects, outcome = drive(orderpath.place(desk(lambda: settings()), bracket, AAPL))
    assert isinstance(outcome, OrderValidationError) and outcome.field == "order" and effects == []
    effects, outcome = drive(groupflow.group(desk(lambda: settings()), bracket, AAPL))
    assert [leg.role for leg in outcome.legs] == ["entry", "take_profit", "stop_loss"]


def test_the_old_orderflow_path_still_imports() -> None:
    from axion_broker_ibkr.ops import orderflow  # type: ignore[attr-defined]

    assert orderflow.REPLY_WINDOW_S == orderpath.REPLY_WINDOW_S
    assert orderflow.place_order_held is orderpath.place_order_held
