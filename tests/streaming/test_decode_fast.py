"""The decoder's quick paths keep the plain ones' meaning: JSON reading, lazy quotes, merged events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from attrs.exceptions import FrozenInstanceError

from axion_broker_ibkr import models as m
from axion_broker_ibkr.streaming import FrameDecoder, QuoteEvent, decode
from axion_broker_ibkr.streaming.decode import _loads, _loads_orjson, _loads_stdlib
from axion_broker_ibkr.wire import convert

#: both frame readers: orjson's (the package's dependency) and the stdlib's (when orjson is missing)
READERS = [pytest.param(_loads_stdlib, id="stdlib"), pytest.param(_loads_orjson, id="orjson")]


def test_the_decoder_reads_frames_with_orjson_when_it_is_installed() -> None:
    pytest.importorskip("orjson")
    assert _loads is _loads_orjson


@pytest.mark.parametrize("loads", READERS)
@pytest.mark.parametrize(
    "text",
    [
        '{"topic": "smd+1", "31": "1"}', ' {"a": 1}', '{"a": 1} ', b'{"a": 1}', "[1, 2]", '"x"', "12",
        '{"a": NaN, "b": Infinity, "c": -Infinity}', '{"a": 1e400}', '"\\ud800"', '{"a": 1}'.encode("utf-16"),
        '{"big": 18446744073709551616, "neg": -9223372036854775809}',
        '[[1, {"n": 123456789012345678901234567890}]]',
        "18446744073709551616", '{"max": 18446744073709551615, "min": -9223372036854775808, "f": 1.5e300}',
        '{"a": "\\u00e9", "b": [true, false, null], "c": -0.0, "d": 1.5e-400}',
    ],
)  # fmt: skip
def test_both_readers_read_what_json_loads_reads(loads: Any, text: str | bytes) -> None:
    got, want = loads(text), json.loads(text)
    assert repr(got) == repr(want)  # the same values and types (an int stays an int, NaN stays NaN)


@pytest.mark.parametrize("loads", READERS)
@pytest.mark.parametrize("text", ["", " ", "{", '{"a": 1} x', "nope", "{'a': 1}", '{"a": NaN', b"\xff{}"])
def test_both_readers_refuse_what_json_loads_refuses_with_its_message(loads: Any, text: str | bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)) as plain:  # the latter: bad UTF-8
        json.loads(text)
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)) as quick:
        loads(text)
    assert (type(quick.value), str(quick.value)) == (type(plain.value), str(plain.value))


FRAMES = [
    '{"topic": "smd+8314", "conid": 8314, "_updated": 1712596911609, "31": "C10.5", "84": "10.4", "88": "3",'
    ' "6070": "STK", "7221": "NASDAQ.NMS"}',
    '{"topic": "smd+8314", "conid": 8314, "88": "4", "85": 7}',
    '{"topic": "smd+8314", "conid": 8314, "84": "x"}',  # bad value: counted, nothing merged
    "not json",
    "[1]",
    '{"topic": "sor", "args": [{"orderId": 1, "status": "Submitted", "remainingQuantity": 100.0}]}',
    '{"topic": "spl", "args": {"U1.Core": {"dpl": 1.5e0, "upl": -2}}}',
    '{"topic": "smd+8314", "conid": 8314, "_updated": 123456789012345678901234567890}',
    '{"topic": "system", "hb": 1}',
    '{"error": "x"}',
]


@pytest.mark.parametrize("loads", READERS)
def test_the_decoder_gives_the_same_events_and_counts_with_either_reader(
    loads: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def decode_all() -> tuple[list[Any], dict[str, int], str | None]:
        dec = FrameDecoder()
        events = [dec.feed(frame) for frame in FRAMES]
        return events, dict(dec.counts), dec.last_error

    plain = decode_all()  # the package's reader
    monkeypatch.setattr(decode, "_loads", loads)
    assert decode_all() == plain
    assert plain[1]["bad_frames"] == 3 and plain[1]["quotes"] == 3  # the bad value, "not json", "[1]"
    (huge,) = plain[0][7]
    assert isinstance(huge, QuoteEvent) and huge.quote.updated == 123456789012345678901234567890  # an int


def test_the_size_scaling_of_a_later_frame_matches_a_full_rebuild() -> None:
    dec = FrameDecoder()
    frames = [
        {"conid": 1, "6070": "STK", "7221": "NYSE", "88": "3", "85": "4", "84": "1.5"},
        {"conid": 1, "88": "5"},  # the lot is known: only this size is scaled
        {"conid": 1, "85": "", "84": "1.6"},
        {"conid": 1, "7221": "LSE", "88": "6"},  # the lot changes: both sizes from their texts again
        {"conid": 1, "85": "2"},
    ]
    expected = None
    for frame in frames:
        (event,) = dec.feed(json.dumps({"topic": "smd+1", **frame}))
        expected = convert.quote_from_wire(frame, expected)
        assert isinstance(event, QuoteEvent) and event.quote == expected
    assert expected is not None
    assert (expected.bid_size, expected.ask_size, expected.size_lot) == (6.0, 2.0, 1.0)


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


def test_without_orjson_the_decoder_reads_frames_with_the_stdlib() -> None:
    # a fresh interpreter where ``import orjson`` fails, as on an install without the wheel
    code = (
        "import sys; sys.modules['orjson'] = None\n"
        "from axion_broker_ibkr.streaming import decode\n"
        "assert decode.orjson is None and decode._loads is decode._loads_stdlib\n"
        '(event,) = decode.FrameDecoder().feed(\'{"topic": "smd+1", "conid": 1, "84": "2.5"}\')\n'
        "print(event.quote.bid)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.5"
