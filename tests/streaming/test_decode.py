"""Frame decoding into typed events and merged state (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axion_broker_ibkr.errors import WireFormatError
from axion_broker_ibkr.streaming import (
    DepthEvent,
    FrameDecoder,
    OrderEvent,
    PnLEvent,
    QuoteEvent,
    StreamChannel,
    SystemEvent,
    TradeEvent,
)
from axion_broker_ibkr.streaming.books import QuoteBook
from axion_broker_ibkr.wire import convert
from tests.conftest import load_fixture


def feed(dec: FrameDecoder, frame: dict[str, Any]) -> list[Any]:
    return dec.feed(json.dumps(frame))


def test_smd_fixture_then_delta_keeps_untouched_fields() -> None:
    dec = FrameDecoder()
    (first,) = feed(dec, load_fixture("ws_smd"))
    assert isinstance(first, QuoteEvent)
    assert first.channel is StreamChannel.QUOTE
    assert (first.conid, first.quote.last, first.quote.bid, first.quote.ask) == (8314, 189.60, 189.56, 189.61)
    (second,) = feed(dec, {"topic": "smd+8314", "conid": 8314, "31": "C189.70", "_updated": 1712596912000})
    assert second.changed == {"31": "C189.70"}
    assert second.quote.last == 189.70 and second.quote.last_is_close
    assert second.quote.bid == 189.56  # not in the delta: kept from the first frame
    assert second.quote.updated == 1712596912000
    assert second.delta.last == 189.70 and second.delta.bid is None
    assert dec.quotes.get(8314) == second.quote


def test_smd_without_conid_uses_topic_and_unknown_target_is_counted() -> None:
    dec = FrameDecoder()
    (ev,) = feed(dec, {"topic": "smd+265598", "84": "10.5"})
    assert ev.conid == 265598 and ev.quote.bid == 10.5
    assert feed(dec, {"topic": "smd+", "84": "1"}) == []
    assert dec.counts["smd_without_conid"] == 1


def test_sor_fixture_then_delta_merges_by_order_id() -> None:
    dec = FrameDecoder()
    (first,) = feed(dec, load_fixture("ws_sor"))
    assert isinstance(first, OrderEvent)
    assert first.order.status == "Submitted" and first.order.ticker == "AAPL" and first.order.price == 372
    delta = {
        "acct": "DU1234",
        "orderId": 922048212,
        "status": "Filled",
        "filledQuantity": 100.0,
        "avgPrice": "371.9",
    }
    (second,) = feed(dec, {"topic": "sor", "args": [delta]})
    assert second.order_id == 922048212
    assert second.order.status == "Filled" and second.order.filled_quantity == 100.0
    assert second.order.avg_price == pytest.approx(371.9)
    assert second.order.ticker == "AAPL"  # kept from the first frame
    assert second.delta.ticker is None and second.delta.status == "Filled"
    assert dec.orders.get(922048212) == second.order
    assert feed(dec, {"topic": "sor", "args": [delta]}) == []  # a replay that changes nothing
    assert dec.counts["unchanged_orders"] == 1


def test_str_trades_are_deduplicated_by_execution_id() -> None:
    dec = FrameDecoder()
    trade = load_fixture("trades")[0]
    (ev,) = feed(dec, {"topic": "str", "args": [trade]})
    assert isinstance(ev, TradeEvent) and ev.trade.execution_id == "0000e0d5.6576fd38.01.01"
    assert ev.trade.price == 192.26 and ev.trade.client_order_id == "Order123"
    assert feed(dec, {"topic": "str", "args": [trade]}) == []
    assert dec.counts["duplicate_trades"] == 1


def test_sbd_rows_split_size_at_price() -> None:
    dec = FrameDecoder()
    frame = {
        "topic": "sbd+DU1234567+265598",
        "data": [
            {"row": 0, "focus": 0, "price": "189.70", "ask": "300"},
            {"row": 1, "focus": 1, "price": "100 @ 189.60"},
            {"row": 2, "focus": 0, "price": "189.50", "bid": "1,200"},
        ],
    }
    (ev,) = feed(dec, frame)
    assert isinstance(ev, DepthEvent)
    assert (ev.account, ev.conid) == ("DU1234567", 265598)
    assert [r.price for r in ev.rows] == [189.70, 189.60, 189.50]
    assert ev.rows[0].ask == 300 and ev.rows[1].size == 100 and ev.rows[1].focus and ev.rows[2].bid == 1200


def test_spl_partial_rows_merge() -> None:
    dec = FrameDecoder()
    (a,) = feed(dec, {"topic": "spl", "args": {"DU1234567.Core": {"rowType": 1, "dpl": -5.0, "upl": 10.0}}})
    (b,) = feed(dec, {"topic": "spl", "args": {"DU1234567.Core": {"dpl": -7.5}}})
    assert isinstance(b, PnLEvent) and b.key == "DU1234567.Core"
    assert (b.row.dpl, b.row.upl, b.row.row_type) == (-7.5, 10.0, 1)
    assert b.delta.upl is None and a.row.dpl == -5.0


def test_unsolicited_topics() -> None:
    dec = FrameDecoder()
    (hello,) = feed(dec, {"topic": "system", "success": "user1"})
    (hb,) = feed(dec, {"topic": "system", "hb": 1712596911593})
    (sts,) = feed(dec, {"topic": "sts", "args": {"authenticated": False}})
    (act,) = feed(dec, {"topic": "act", "args": {"accounts": ["DU1234567"], "selectedAccount": "DU1234567"}})
    (ntf,) = feed(dec, {"topic": "ntf", "args": {"id": "1", "text": "hello"}})
    (blt,) = feed(dec, {"topic": "blt", "args": {"id": "2", "message": "bulletin"}})
    assert all(
        isinstance(e, SystemEvent) and e.channel is StreamChannel.SYSTEM for e in (hello, hb, sts, act)
    )
    assert hello.username == "user1" and hb.heartbeat == 1712596911593
    assert sts.auth is not None and sts.auth.authenticated is False
    assert act.kind == "act" and act.data["selectedAccount"] == "DU1234567"
    assert (ntf.kind, ntf.data["text"], blt.kind, blt.data["message"]) == ("ntf", "hello", "blt", "bulletin")


def test_unknown_and_bad_frames_are_counted_not_fatal() -> None:
    dec = FrameDecoder()
    assert dec.feed('{"topic": "zzz+1", "x": 1}') == []
    assert dec.feed('{"topic": "systemx"}') == []
    assert dec.feed("not json") == []
    assert dec.feed("[1, 2]") == []
    assert dec.feed('{"topic": "smd+8314", "conid": 8314, "31": "abc"}') == []
    assert dec.feed('{"message": "waiting for session"}') == []
    (err,) = dec.feed('{"error": "bad DU1234567"}')
    assert isinstance(err, SystemEvent) and err.kind == "error"
    assert dec.unknown_topics == {"zzz": 1, "systemx": 1}
    assert dec.counts["bad_frames"] == 3 and dec.counts["waiting_for_session"] == 1
    assert dec.last_error is not None and "DU1234567" not in dec.last_error
    # the stream still works afterwards
    (ok,) = dec.feed('{"topic": "smd+8314", "conid": 8314, "31": "1.5"}')
    assert isinstance(ok, QuoteEvent) and ok.quote.last == 1.5


_values = st.one_of(
    st.decimals(min_value=-1000, max_value=100000, places=2).map(str),
    st.sampled_from(["C189.60", "H12", "1,300", "1.2M", "", "12.5%", "N/A"]),
    st.integers(min_value=0, max_value=10**6),
)
_frame = st.dictionaries(
    st.sampled_from(
        [*convert.QUOTE_NUMERIC_FIELDS, *convert.QUOTE_TEXT_FIELDS, "7762", "6119", "_updated", "999"]
    ),
    _values,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_frame, min_size=1, max_size=6))
def test_fast_quote_merge_equals_convert_quote_from_wire(frames: list[dict[str, Any]]) -> None:
    book = QuoteBook()
    expected = None
    for frame in frames:
        data = {"conid": 8314, **frame}
        if "_updated" in data:
            data["_updated"] = int(data["_updated"]) if str(data["_updated"]).isdigit() else 1
        try:
            expected = convert.quote_from_wire(data, expected)
        except WireFormatError:
            with pytest.raises(WireFormatError, match="Quote 8314"):
                book.apply(8314, data)
            return
        quote, changed = book.apply(8314, data)
        assert quote == expected
        assert changed == {k: v for k, v in expected.fields.items() if k in frame}


def test_a_bad_value_merges_nothing() -> None:
    dec = FrameDecoder()
    feed(dec, {"topic": "smd+8314", "conid": 8314, "84": "10", "31": "11"})
    assert feed(dec, {"topic": "smd+8314", "conid": 8314, "84": "12", "31": "abc"}) == []
    quote = dec.quotes.get(8314)
    assert quote is not None and (quote.bid, quote.last) == (10.0, 11.0)  # no half-applied frame
    assert dec.last_error is not None and "field 31 (last)" in dec.last_error


def test_recorded_frames_decode_cleanly_and_merge() -> None:
    from tests.conftest import FIXTURES

    dec = FrameDecoder()
    lines = (FIXTURES / "ws" / "frames.jsonl").read_text(encoding="utf-8").splitlines()
    events = [ev for line in lines for ev in dec.feed(line)]
    assert dec.counts["bad_frames"] == 0 and not dec.unknown_topics
    assert {type(e).__name__ for e in events} >= {
        "QuoteEvent",
        "OrderEvent",
        "TradeEvent",
        "PnLEvent",
        "DepthEvent",
    }
    orders = dec.orders.snapshot()
    assert orders and all(o.ticker == "AAPL" for o in orders.values())  # deltas never lose the first frame
    quotes = dec.quotes.snapshot()
    assert all(q.last is not None and q.bid is not None for q in quotes.values())


def test_executions_complete_an_order_the_gateway_stopped_reporting() -> None:
    dec = FrameDecoder()
    order = {"orderId": 7, "acct": "DU1234567", "order_ref": "AX-7", "status": "Submitted", "totalSize": 10.0,
             "filledQuantity": 0.0, "remainingQuantity": 10.0, "ticker": "IBM"}  # fmt: skip
    feed(dec, {"topic": "sor", "args": [order]})
    part = {"execution_id": "e1", "order_ref": "AX-7", "size": 4.0, "price": "100", "side": "B"}
    events = feed(dec, {"topic": "str", "args": [part]})
    assert [type(e).__name__ for e in events] == ["TradeEvent", "OrderEvent"]
    fix = events[1]
    assert isinstance(fix, OrderEvent) and fix.source == "trades"
    assert (fix.order.filled_quantity, fix.order.remaining_quantity, fix.order.status) == (
        4.0,
        6.0,
        "Submitted",
    )
    rest = {"execution_id": "e2", "order_ref": "AX-7", "size": 6.0, "price": "101", "side": "B"}
    *_, done = feed(dec, {"topic": "str", "args": [rest]})
    assert isinstance(done, OrderEvent) and done.order.status == "Filled" and done.order.ticker == "IBM"
    assert done.order.avg_price == pytest.approx(100.6)
    # sor catching up later changes nothing, and executions never lower a known fill
    feed(dec, {"topic": "sor", "args": [{"orderId": 7, "filledQuantity": 10.0, "status": "Filled"}]})
    assert dec.reconcile_fills() == []
    assert dec.orders.get(7).filled_quantity == 10.0  # type: ignore[union-attr]


def test_executions_of_unknown_orders_are_just_trades() -> None:
    dec = FrameDecoder()
    events = feed(dec, {"topic": "str", "args": [{"execution_id": "e9", "order_ref": "other", "size": 1.0}]})
    assert [type(e).__name__ for e in events] == ["TradeEvent"]
