"""The order path of both clients over the mock: write-ahead journal, questions, ambiguity, safety."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.errors import (
    LiveTradingNotAllowedError,
    ModeError,
    OrderRejectedError,
    OrderStateUnknownError,
    OrderValidationError,
    QuestionRefusedError,
)
from axion_broker_ibkr.models import IBKRContract
from axion_broker_ibkr.ops.journal import JournalEntry
from axion_broker_ibkr.store.memory import MemoryJournal
from tests.client.conftest import Router, call, make_client, reply
from tests.conftest import load_fixture

AAPL = IBKRContract(conid=265598, sec_type="STK", symbol="AAPL", exchange="SMART", currency="USD")
ORDERS = "/iserver/account/DU1234567/orders"
ACK = [{"order_id": "1234567890", "order_status": "Submitted", "encrypt_message": "1"}]
Q163 = load_fixture("order_reply_question")


def order(**extra: Any) -> dict[str, Any]:
    return {"symbol": "AAPL", "side": "buy", "qty": 10, "order_type": "limit", "limit_price": 165.0,
            "time_in_force": "day", "asset_type": "stock", **extra}  # fmt: skip


class SpyJournal(MemoryJournal):
    """A MemoryJournal that notes when it was written, relative to the router's requests."""

    def __init__(self, router: Router, fail: bool = False) -> None:
        super().__init__()
        self.router = router
        self.fail = fail
        self.events: list[tuple[str, int]] = []

    def record_pending(self, entry: JournalEntry) -> None:
        self.events.append(("pending", len(self.router.calls)))
        if self.fail:
            raise OSError("disk full")
        super().record_pending(entry)

    def record_result(self, client_order_id: str, **kwargs: Any) -> None:
        self.events.append((f"result:{kwargs['status']}", len(self.router.calls)))
        super().record_result(client_order_id, **kwargs)


@pytest.fixture
def paper(router: Router) -> Router:
    router.routes[("GET", "/v1/api/iserver/accounts")] = [
        {**load_fixture("iserver_accounts"), "accounts": ["DU1234567"], "selectedAccount": "DU1234567"}
    ]
    return router


async def test_accepted_order_is_journaled_before_the_post(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, ACK)
    journal = SpyJournal(paper)
    client = make_client(kind, paper)
    client.journal = journal
    result = await call(client.place_order(order(client_order_id="AX-1"), AAPL))
    assert result.order_id == "1234567890"
    assert result.client_order_id == "AX-1"
    assert result.status == "open"  # Submitted is working, never "filled"
    assert result.ibkr_status == "Submitted"
    assert result.mode == "gateway" and result.account_id == "DU1234567"
    posts = [r for r in paper.calls if r.url.path.endswith("/orders")]
    assert len(posts) == 1
    body = json.loads(posts[0].content)
    assert body["orders"][0]["cOID"] == "AX-1" and body["orders"][0]["conid"] == 265598
    post_index = paper.calls.index(posts[0])
    assert journal.events[0] == ("pending", post_index)  # written while the POST had not left yet
    entry = journal.get("AX-1")
    assert entry is not None and entry.status == "open" and entry.order_id == "1234567890"
    assert entry.mode == "gateway" and entry.symbol == "AAPL" and entry.quantity == 10
    assert "DU1234567" not in repr(result)


async def test_journal_failure_means_nothing_is_sent(kind: str, paper: Router) -> None:
    client = make_client(kind, paper)
    client.journal = SpyJournal(paper, fail=True)
    with pytest.raises(OSError, match="disk full"):
        await call(client.place_order(order(), AAPL))
    assert not any(r.method == "POST" and not r.url.path.endswith("/contract/rules") for r in paper.calls)


async def test_invalid_order_is_refused_before_the_journal(kind: str, paper: Router) -> None:
    client = make_client(kind, paper)
    journal = SpyJournal(paper)
    client.journal = journal
    with pytest.raises(OrderValidationError):
        await call(client.place_order(order(qty=-5), AAPL))
    assert journal.events == []
    assert not any(r.method == "POST" and not r.url.path.endswith("/contract/rules") for r in paper.calls)


async def test_question_not_on_the_allow_list_is_refused_quoting_ibkr(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, Q163)
    reply_path = f"/iserver/reply/{Q163[0]['id']}"
    paper.on("POST", reply_path, {"error": "order discarded"})
    journal = SpyJournal(paper)
    client = make_client(kind, paper)
    client.journal = journal
    with pytest.raises(QuestionRefusedError, match="Percentage constraint") as info:
        await call(client.place_order(order(client_order_id="AX-Q"), AAPL))
    assert info.value.message_ids == ["o163"]
    assert info.value.transcript[0]["answer"] is False
    declined = [r for r in paper.calls if r.url.path.endswith(reply_path)]
    assert [json.loads(r.content) for r in declined] == [{"confirmed": False}]
    entry = journal.get("AX-Q")
    # not answered yes is "declined" (IBKR did not refuse it), with the question's ids and text
    assert entry is not None and entry.status == "declined" and entry.transcript[0]["message_ids"] == ["o163"]
    assert "Percentage constraint" in entry.transcript[0]["messages"][0] and "o163" in (entry.message or "")


async def test_allowed_questions_are_confirmed_through_a_chain(kind: str, paper: Router) -> None:
    second = [
        {"id": "q-2", "message": ["Market order risk"], "isSuppressed": False, "messageIds": ["o10151"]}
    ]
    paper.on("POST", ORDERS, Q163)
    paper.on("POST", f"/iserver/reply/{Q163[0]['id']}", second)
    paper.on("POST", "/iserver/reply/q-2", ACK)
    client = make_client(kind, paper, auto_confirm=["o163", "o10151"])
    result = await call(client.place_order(order(), AAPL))
    assert result.order_id == "1234567890"
    assert [t["message_ids"] for t in result.transcript] == [["o163"], ["o10151"]]
    assert all(t["answer"] is True for t in result.transcript)


async def test_per_call_confirm_answers_yes_with_the_allow_list(kind: str, paper: Router) -> None:
    """auto_confirm (config) and confirm (this call) together: o163 from the call, o10151 from config."""
    second = [
        {"id": "q-2", "message": ["Market order risk"], "isSuppressed": False, "messageIds": ["o10151"]}
    ]
    paper.on("POST", ORDERS, Q163)
    paper.on("POST", f"/iserver/reply/{Q163[0]['id']}", second)
    paper.on("POST", "/iserver/reply/q-2", ACK)
    client = make_client(kind, paper, auto_confirm=["o10151"])
    result = await call(client.place_order(order(), AAPL, confirm=["O163"]))
    assert result.order_id == "1234567890"
    assert [(t["answer"], t["confirmed_by_caller"]) for t in result.transcript] == [
        (True, ["o163"]),
        (True, []),
    ]
    assert client.config.auto_confirm == ("o10151",)  # the call did not widen the client's policy


async def test_per_call_confirm_covers_only_the_ids_given(kind: str, paper: Router) -> None:
    both = [{"id": "q-b", "message": ["Price far", "Size large"], "isSuppressed": False,
             "messageIds": ["o163", "o354"]}]  # fmt: skip
    paper.on("POST", ORDERS, both)
    paper.on("POST", "/iserver/reply/q-b", {"error": "order discarded"})
    client = make_client(kind, paper)
    with pytest.raises(QuestionRefusedError, match="Size large") as info:
        await call(client.place_order(order(), AAPL, confirm="o163"))  # o354 was not confirmed
    assert info.value.message_ids == ["o163", "o354"]
    assert [json.loads(r.content) for r in paper.calls if r.url.path.endswith("/q-b")] == [
        {"confirmed": False}
    ]
    with pytest.raises(QuestionRefusedError):  # and the next order gets no leftover confirmation
        await call(client.place_order(order(), AAPL))


async def test_modify_takes_a_per_call_confirm(kind: str, paper: Router) -> None:
    paper.on("POST", f"{ORDERS.rsplit('/', 1)[0]}/order/1234567890", Q163)
    paper.on("POST", f"/iserver/reply/{Q163[0]['id']}", ACK)
    client = make_client(kind, paper)
    result = await call(client.modify_order("1234567890", order(), AAPL, confirm=["o163"]))
    assert result.transcript[0]["answer"] is True


async def test_bad_confirm_ids_are_refused_before_anything_is_sent(kind: str, paper: Router) -> None:
    client = make_client(kind, paper)
    with pytest.raises(OrderValidationError, match="confirm") as info:
        await call(client.place_order(order(), AAPL, confirm=["yes"]))
    assert info.value.field == "confirm"
    assert not any(r.method == "POST" and not r.url.path.endswith("/contract/rules") for r in paper.calls)


async def test_question_chain_is_bounded(kind: str, paper: Router) -> None:
    loop = [{"id": "again", "message": ["Sure?"], "isSuppressed": False, "messageIds": ["o163"]}]
    paper.on("POST", ORDERS, loop)
    paper.on("POST", "/iserver/reply/again", loop)
    client = make_client(kind, paper, auto_confirm=["o163"], max_question_rounds=3)
    with pytest.raises(QuestionRefusedError, match="kept asking"):
        await call(client.place_order(order(), AAPL))
    assert paper.count("POST", "/iserver/reply/again") == 4  # 3 yes + the final no


async def test_business_rejection_quotes_ibkr(kind: str, paper: Router) -> None:
    paper.fixture("POST", ORDERS, "order_reject")
    client = make_client(kind, paper)
    with pytest.raises(OrderRejectedError, match="IBKR rejected the order"):
        await call(client.place_order(order(), AAPL))


async def test_ambiguous_failure_finds_the_order_by_coid_and_never_resends(kind: str, paper: Router) -> None:
    live = load_fixture("live_orders")
    mine = {**live["orders"][0], "orderId": 42, "status": "PreSubmitted", "order_ref": "AX-AMB",
            "filledQuantity": 0.0, "totalSize": 10.0}  # fmt: skip
    paper.on("POST", ORDERS, httpx.ReadTimeout("no answer"))
    paper.on("GET", "/iserver/account/orders", {"orders": [live["orders"][0], mine]})
    journal = SpyJournal(paper)
    client = make_client(kind, paper)
    client.journal = journal
    result = await call(client.place_order(order(client_order_id="AX-AMB"), AAPL))
    assert result.order_id == "42" and result.status == "open"
    assert paper.count("POST", ORDERS) == 1
    assert [e[0] for e in journal.events] == ["pending", "result:submitted_unconfirmed", "result:open"]


async def test_ambiguous_failure_without_a_trace_is_unknown_not_resent(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, reply(503, {"error": "Service Unavailable"}))
    paper.on("GET", "/iserver/account/orders", {"orders": []})
    journal = SpyJournal(paper)
    client = make_client(kind, paper)
    client.journal = journal
    with pytest.raises(OrderStateUnknownError, match="NOT re-sent") as info:
        await call(client.place_order(order(client_order_id="AX-LOST"), AAPL))
    assert info.value.client_order_id == "AX-LOST"
    assert paper.count("POST", ORDERS) == 1
    entry = journal.get("AX-LOST")
    assert entry is not None and entry.status == "unknown_at_broker"


async def test_connection_refused_order_is_rejected_without_lookup(kind: str, paper: Router) -> None:
    paper.on("POST", ORDERS, httpx.ConnectError("refused"))
    journal = SpyJournal(paper)
    client = make_client(kind, paper)
    client.journal = journal
    with pytest.raises(Exception, match="could not reach"):
        await call(client.place_order(order(client_order_id="AX-NS"), AAPL))
    assert paper.count("GET", "/iserver/account/orders") == 0
    entry = journal.get("AX-NS")
    assert entry is not None and entry.status == "rejected"


async def test_live_account_needs_the_opt_in(kind: str, router: Router) -> None:
    client = make_client(kind, router)  # the fixture's selected account is U1234567 (live)
    with pytest.raises(LiveTradingNotAllowedError, match="allow_live_trading"):
        await call(client.place_order(order(), AAPL))
    assert not any(r.method == "POST" for r in router.calls)
    router.on("POST", "/iserver/account/U1234567/orders", ACK)
    allowed = make_client(kind, router, allow_live_trading=True)
    assert (await call(allowed.place_order(order(), AAPL))).order_id == "1234567890"


async def test_order_meant_for_another_mode_is_refused(kind: str, paper: Router) -> None:
    client = make_client(kind, paper)
    with pytest.raises(ModeError, match="'sim'"):
        await call(client.place_order(order(mode="sim"), AAPL))
    assert not any(r.method == "POST" and not r.url.path.endswith("/contract/rules") for r in paper.calls)


async def test_whatif_and_modify(kind: str, paper: Router) -> None:
    paper.fixture("POST", ORDERS + "/whatif", "order_whatif")
    paper.on("POST", "/iserver/account/DU1234567/order/1234567890", ACK)
    client = make_client(kind, paper)
    preview = await call(client.whatif(order(), AAPL))
    assert preview.amount is not None and preview.amount.commission
    changed = await call(
        client.modify_order("1234567890", order(limit_price=166.0, client_order_id="AX-M"), AAPL)
    )
    assert changed.order_id == "1234567890" and changed.status == "open"
    body = json.loads(paper.calls[-1].content)
    assert "orders" not in body and body["price"] == 166.0 and "cOID" not in body


async def test_errors_and_logs_mask_the_account(
    kind: str, paper: Router, caplog: pytest.LogCaptureFixture
) -> None:
    paper.on("POST", ORDERS, reply(429, {"error": "Too many requests"}))
    client = make_client(kind, paper)
    with caplog.at_level("DEBUG"), pytest.raises(Exception, match="DU\\*\\*\\*567") as info:
        await call(client.place_order(order(), AAPL))
    assert "DU1234567" not in str(info.value)
    assert all("DU1234567" not in r.getMessage() for r in caplog.records)
