"""The conformance comparator itself must catch what it claims to catch."""

from __future__ import annotations

from .shapes import shape_errors


def test_detects_missing_extra_and_mistyped_keys() -> None:
    example = {"conid": 1, "price": "1.00", "nested": {"ok": True}}
    assert shape_errors(example, {"conid": 2, "price": "2.00", "nested": {"ok": False}}) == []
    assert shape_errors(example, {"conid": 2, "nested": {"ok": False}}) == ["$: missing key 'price'"]
    assert shape_errors(example, {**example, "more": 1}) == ["$: unexpected key 'more'"]
    assert shape_errors(example, {**example, "more": 1}, extra={"more"}) == []
    assert shape_errors(example, {**example, "price": 1.0}) == ["$.price: expected string, got number (1.0)"]
    assert shape_errors(example, {**example, "nested": {"ok": "yes"}}) == [
        "$.nested.ok: expected bool, got string ('yes')"
    ]


def test_nulls_numbers_and_maps() -> None:
    assert shape_errors({"a": None}, {"a": "anything"}) == []
    assert shape_errors({"a": 1}, {"a": 1.5}) == []  # JSON has one number type
    assert shape_errors({"a": 1}, {"a": None}) == ["$.a: expected number, got null (None)"]
    assert shape_errors({"a": 1}, {"a": None}, nullable={"a"}) == []
    example = {"upnl": {"U1.Core": {"nl": 1.0}}}
    assert shape_errors(example, {"upnl": {"DU1.Core": {"nl": 2.0}, "DU2.Core": {"nl": 3.0}}}) == []
    assert shape_errors(example, {"upnl": {"DU1.Core": {"nl": "2"}}}) != []


def test_list_variants() -> None:
    example = [{"key": "A", "value": 1}, {"key": "B"}]
    assert shape_errors(example, [{"key": "X", "value": 2}, {"key": "Y"}]) == []
    assert shape_errors(example, [{"key": "X", "value": 2}]) == [
        "$: no element shaped like example element 1"
    ]
    assert shape_errors(example, [{"key": "X", "value": 2}], all_variants=False) == []
    assert shape_errors(example, [{"key": 1}]) != []
    assert shape_errors(["a", "b"], []) == ["$: empty, the example has elements"]
    assert shape_errors(["a"], ["b", 1]) == ["$[1]: number not in ['string']"]
