"""One quote-merge rule (``convert.merge_quote``) for snapshot rows and stream deltas."""

from __future__ import annotations

from typing import Any

import pytest

from axion_broker_ibkr.errors import WireFormatError
from axion_broker_ibkr.streaming.books import QuoteBook
from axion_broker_ibkr.wire import convert


def test_merge_applies_a_delta_in_place_and_says_what_it_carried() -> None:
    values: dict[str, Any] = {}
    fields: dict[str, str] = {}
    first = {"conid": 8314, "conidEx": "8314", "31": "C101.5", "84": "101.4", "87": "1.2M", "_updated": 5}
    assert convert.merge_quote(8314, first, values, fields) == {"31": "C101.5", "84": "101.4", "87": "1.2M"}
    assert values["last"] == 101.5 and values["last_is_close"] and not values["halted"]
    assert (values["volume"], values["conidex"], values["updated"]) == (1_200_000.0, "8314", 5)
    changed = convert.merge_quote(8314, {"7762": "1234567", "87": "1.3M", "31": "H99"}, values, fields)
    assert changed == {"7762": "1234567", "87": "1.3M", "31": "H99"}
    assert values["volume"] == 1_234_567.0  # 7762 wins over 87
    assert values["halted"] and not values["last_is_close"] and values["bid"] == 101.4  # kept
    assert fields == {"31": "H99", "84": "101.4", "87": "1.3M", "7762": "1234567"}


def test_a_bad_value_names_the_conid_and_field() -> None:
    with pytest.raises(WireFormatError, match=r"Quote 8314: field 84 \(bid\)"):
        convert.merge_quote(8314, {"84": "abc"}, {}, {})
    with pytest.raises(WireFormatError, match=r"field 7762 \(volume\)"):
        convert.merge_quote(8314, {"7762": "many"}, {}, {})


def test_snapshot_and_stream_agree_through_the_one_rule() -> None:
    frames: list[dict[str, Any]] = [
        {"conid": 8314, "31": "189.60", "84": "189.5", "86": "189.7", "55": "IBM", "6119": "q1"},
        {"84": "189.55", "_updated": 1712596912000},
        {"87": "2.5M", "7762": "2512345"},
        {"31": "C189.61", "6509": "RpB"},
    ]
    book = QuoteBook()
    quote = None
    for frame in frames:
        quote = convert.quote_from_wire({"conid": 8314, **frame}, quote)
        streamed, _changed = book.apply(8314, {"conid": 8314, **frame})
        assert streamed == quote
    assert quote is not None and quote.volume == 2_512_345.0 and quote.last_is_close
    assert (quote.server_id, quote.updated, quote.symbol) == ("q1", 1712596912000, "IBM")
