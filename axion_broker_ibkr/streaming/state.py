"""Merged state kept by the stream: quotes per conid, orders per order id, P&L per partition, trades.

Pure data structures, no I/O. IBKR sends deltas (``smd``/``sor`` frames after the first carry only
the fields that changed); these stores apply each delta onto what is known and return the merged
value, so consumers never have to merge themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import attrs

from .. import convert
from .. import models as m
from ..errors import WireFormatError
from .events import OrderEvent


def _wire(obj: Any) -> dict[str, Any]:
    """Model -> wire-named dict without ``None`` values (``None`` means "not sent")."""
    data = convert.unstructure(obj)
    return {k: v for k, v in data.items() if v is not None}


_MISS = object()
_NUMBER_CACHE = 8192  # distinct quote texts remembered before the cache starts over
_QUOTE_META = frozenset({"conid", "conidEx", "conidex", "_updated", "server_id", "topic", "6119"})


def _number(conid: int, key: str, value: Any) -> float | None:
    try:
        return convert.parse_number(value)
    except ValueError as exc:
        attr = _NUMERIC.get(key, key)
        raise WireFormatError(f"Quote {conid}: field {key} ({attr}): {exc}") from exc


class QuoteBook:
    """``conid`` -> merged :class:`Quote`.

    The first frame of a conid goes through :func:`convert.quote_from_wire`; later deltas take a
    fast path that applies the same rules (the same field tables and number parser) to the
    attribute values kept per conid, so one frame costs one ``Quote`` construction; parsed numbers
    are remembered by their text (prices and sizes repeat). A test checks that both paths agree
    on random frame sequences.
    """

    def __init__(self) -> None:
        self._quotes: dict[int, m.Quote] = {}
        self._values: dict[int, dict[str, Any]] = {}
        self._numbers: dict[str, object] = {}

    def apply(self, conid: int, data: Mapping[str, Any]) -> tuple[m.Quote, dict[str, str]]:
        """Merge one ``smd`` frame by :func:`convert.merge_quote` (the snapshot's rule too); returns
        the merged quote and the field ids (-> text) it changed.

        On a bad value nothing is merged (``WireFormatError`` names the conid and field).
        """
        stored = self._values.get(conid)
        values = {} if stored is None else dict(stored)
        fields: dict[str, str] = dict(values.pop("fields", {}))
        changed = convert.merge_quote(conid, data, values, fields, self._number)
        quote = m.Quote(conid=conid, fields=fields, **values)
        values["fields"] = fields
        self._values[conid] = values
        self._quotes[conid] = quote
        return quote, changed

    def _number(self, conid: int, key: str, value: Any) -> float | None:
        return self._parse(conid, key, value) if value.__class__ is str else _number(conid, key, value)

    def _parse(self, conid: int, key: str, text: str) -> float | None:
        """:func:`convert.parse_number` of a quote text, remembered: prices and sizes repeat a lot."""
        number = self._numbers.get(text, _MISS)
        if number is _MISS:
            number = _number(conid, key, text)
            if len(self._numbers) >= _NUMBER_CACHE:
                self._numbers.clear()
            self._numbers[text] = number
        return cast("float | None", number)

    def get(self, conid: int) -> m.Quote | None:
        return self._quotes.get(conid)

    def snapshot(self) -> dict[int, m.Quote]:
        return dict(self._quotes)

    def __len__(self) -> int:
        return len(self._quotes)


_NUMERIC = convert.QUOTE_NUMERIC_FIELDS
_TEXT = convert.QUOTE_TEXT_FIELDS
_QUOTE_ATTRS = tuple(a.name for a in attrs.fields(m.Quote) if a.name not in {"conid", "fields"})


class OrderBook:
    """``order_id`` -> merged :class:`Order`, kept as the merged wire dict plus its parsed model."""

    def __init__(self) -> None:
        self._raw: dict[int, dict[str, Any]] = {}
        self._orders: dict[int, m.Order] = {}
        self._by_coid: dict[str, int] = {}

    def _store(self, order_id: int, order: m.Order) -> None:
        self._orders[order_id] = order
        if order.client_order_id:
            self._by_coid[order.client_order_id] = order_id

    def apply(self, order_id: int, delta: Mapping[str, Any]) -> m.Order | None:
        """Merge one ``sor`` item; returns the merged order, ``None`` if nothing changed (the full
        ``sor`` replay after a (re)subscription repeats what the REST rebuild already gave)."""
        raw = self._raw.get(order_id)
        merged_raw = {**raw, **delta} if raw is not None else dict(delta)
        merged = convert.structure(merged_raw, m.Order)
        self._raw[order_id] = merged_raw
        if self._orders.get(order_id) == merged:
            return None
        self._store(order_id, merged)
        return merged

    def rebuild(self, orders: Iterable[m.Order]) -> list[OrderEvent]:
        """Take ``/iserver/account/orders`` as the truth; return an event for every order that changed.

        Orders missing from the answer are kept as they were (the gateway lists only the current
        brokerage session's orders).
        """
        events: list[OrderEvent] = []
        for order in orders:
            if order.order_id is None:
                continue
            oid = order.order_id
            old = self._orders.get(oid)
            raw = {**self._raw.get(oid, {}), **_wire(order)}
            merged = convert.structure(raw, m.Order)
            self._raw[oid] = raw
            self._store(oid, merged)
            if old == merged:
                continue
            changes: dict[str, Any] = {}
            for a in attrs.fields(m.Order):
                new_value = getattr(merged, a.name)
                if old is None or getattr(old, a.name) != new_value:
                    changes[a.name] = new_value
            changes["order_id"] = oid
            events.append(
                OrderEvent(order_id=oid, order=merged, changed=_wire(m.Order(**changes)), source="rest")
            )
        return events

    def order_for(self, trade: m.Trade) -> int | None:
        """The known order an execution belongs to: by order id, else by cOID (``order_ref``);
        executions usually carry only the latter (REFERENCE §4.8)."""
        if trade.order_id is not None and trade.order_id in self._orders:
            return trade.order_id
        return self._by_coid.get(trade.client_order_id) if trade.client_order_id else None

    def reconcile_fills(self, order_id: int, executions: Iterable[m.Trade]) -> OrderEvent | None:
        """Executions are the truth about fills. When those known for an order add up to more than
        its merged ``filled_quantity`` (a fill made while the socket was down, for an order the new
        brokerage session no longer lists), bring the order up to date from them."""
        order = self._orders.get(order_id)
        if order is None:
            return None
        qty = sum(t.size or 0.0 for t in executions)
        if qty <= (order.filled_quantity or 0.0) + 1e-9:
            return None
        notional = sum((t.size or 0.0) * (t.price or 0.0) for t in executions)
        fix: dict[str, Any] = {"filled_quantity": qty, "avg_price": notional / qty}
        if order.total_size is not None:
            fix["remaining_quantity"] = max(order.total_size - qty, 0.0)
            if fix["remaining_quantity"] <= 1e-9:
                fix["status"] = "Filled"
        changed = _wire(m.Order(order_id=order_id, **fix))
        merged = self.apply(order_id, changed)
        if merged is None:
            return None
        return OrderEvent(order_id=order_id, order=merged, changed=changed, source="trades")

    def get(self, order_id: int) -> m.Order | None:
        return self._orders.get(order_id)

    def snapshot(self) -> dict[int, m.Order]:
        return dict(self._orders)

    def __len__(self) -> int:
        return len(self._orders)


class PnLBook:
    """``<acct>.Core`` -> merged :class:`PnLRow` (``spl`` rows may be partial)."""

    def __init__(self) -> None:
        self._raw: dict[str, dict[str, Any]] = {}
        self._rows: dict[str, m.PnLRow] = {}

    def apply(self, key: str, delta: Mapping[str, Any]) -> m.PnLRow:
        merged_raw = {**self._raw.get(key, {}), **delta}
        row = convert.structure(merged_raw, m.PnLRow)
        self._raw[key] = merged_raw
        self._rows[key] = row
        return row

    def get(self, key: str) -> m.PnLRow | None:
        return self._rows.get(key)

    def snapshot(self) -> dict[str, m.PnLRow]:
        return dict(self._rows)


class TradeLog:
    """Executions seen, de-duplicated by ``execution_id`` (``str`` and the REST back-fill overlap)."""

    def __init__(self) -> None:
        self._trades: dict[str, m.Trade] = {}
        self._anonymous: list[m.Trade] = []
        self._by_order: dict[int | str, list[m.Trade]] = {}  # order id and cOID -> executions

    def add(self, trade: m.Trade) -> bool:
        """Record ``trade``; ``False`` when this execution was already known."""
        if trade.execution_id is None:
            self._anonymous.append(trade)
        elif trade.execution_id in self._trades:
            return False
        else:
            self._trades[trade.execution_id] = trade
        for key in (trade.order_id, trade.client_order_id):
            if key is not None and key != "":
                self._by_order.setdefault(key, []).append(trade)
        return True

    def for_order(self, order_id: int, client_order_id: str | None) -> list[m.Trade]:
        """Executions of one order, found by its id or its cOID, each once."""
        found: dict[int, m.Trade] = {}
        for key in (order_id, client_order_id):
            if key is not None and key != "":
                for trade in self._by_order.get(key, ()):
                    found[id(trade)] = trade
        return list(found.values())

    def all(self) -> list[m.Trade]:
        return [*self._trades.values(), *self._anonymous]

    def __len__(self) -> int:
        return len(self._trades) + len(self._anonymous)
