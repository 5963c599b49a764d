"""The decoder's quick paths keep the plain ones' meaning: JSON reading, lazy quotes, merged events."""

from __future__ import annotations

import json

import pytest
from attrs.exceptions import FrozenInstanceError

from axion_broker_ibkr import convert
from axion_broker_ibkr import models as m
from axion_broker_ibkr.streaming import FrameDecoder, QuoteEvent
from axion_broker_ibkr.streaming.decode import _loads


@pytest.mark.parametrize(
    "text",
    ['{"topic": "smd+1", "31": "1"}', ' {"a": 1}', '{"a": 1} ', b'{"a": 1}', "[1, 2]", '"x"', "12"],
)
def test_quick_json_reads_what_json_loads_reads(text: str | bytes) -> None:
    assert _loads(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "nope", "{'a': 1}", '{"a": NaN'])
def test_quick_json_refuses_what_json_loads_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError) as plain:
        json.loads(text)
    with pytest.raises(json.JSONDecodeError) as quick:
        _loads(text)
    assert str(quick.value) == str(plain.value)


def test_a_decoded_quote_is_built_once_on_first_access_and_stays_frozen() -> None:
    dec = FrameDecoder()
    (first,) = dec.feed('{"topic": "smd+8314", "conid": 8314, "31": "C10.5", "84": "10.4", "88": "3"}')
    (second,) = dec.feed('{"topic": "smd+8314", "conid": 8314, "84": "10.45"}')
    assert isinstance(first, QuoteEvent) and isinstance(second, QuoteEvent)
    assert first.values is not None and first.values["bid"] == 10.4  # parsed when decoded
    quote = second.quote
    assert quote is second.quote  # built once
    assert (quote.last, quote.bid, quote.last_is_close, quote.bid_size) == (10.5, 10.45, True, 3.0)
    assert first.quote.bid == 10.4  # the first frame's state is its own, not the later merge's
    assert dec.quotes.get(8314) is quote  # the book hands out the same object
    with pytest.raises(FrozenInstanceError):
        second.conid = 1
    expected = convert.quote_from_wire({"conid": 8314, "84": "10.45"}, first.quote)
    assert second == QuoteEvent(conid=8314, changed={"84": "10.45"}, quote=expected)
    assert "conid=8314" in repr(second)


def test_a_quote_event_needs_its_quote_or_what_builds_it() -> None:
    with pytest.raises(TypeError, match="merged quote"):
        QuoteEvent(conid=1, changed={})
    event = QuoteEvent(conid=1, changed={}, quote=m.Quote(conid=1))
    assert event.quote == m.Quote(conid=1) and event.values is None
