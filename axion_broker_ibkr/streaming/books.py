"""Merged state kept by the stream: quotes per conid, orders per order id, P&L per partition, trades.

Pure data structures, no I/O. IBKR sends deltas (``smd``/``sor`` frames after the first carry only
the fields that changed); these stores apply each delta onto what is known and return the merged
value, so consumers never have to merge themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import attrs

from .. import models as m
from ..wire import convert
from .events import OrderEvent, QuoteEvent, merged_quote_event


def _wire(obj: Any) -> dict[str, Any]:
    """Model -> wire-named dict without ``None`` values (``None`` means "not sent")."""
    data = convert.unstructure(obj)
    return {k: v for k, v in data.items() if v is not None}


class QuoteBook:
    """``conid`` -> merged :class:`Quote`, by :func:`convert.merge_quote` (the snapshot's rule too).

    Each frame merges into copies of the conid's last values (so a bad value merges nothing); the
    result is the frame's :class:`QuoteEvent`, which builds its ``Quote`` on first use, and the book
    keeps the last one per conid. Parsed numbers are remembered by their text (prices and sizes
    repeat). A test checks that the book and :func:`convert.quote_from_wire` agree on random frame
    sequences.
    """

    def __init__(self) -> None:
        self._last: dict[int, QuoteEvent] = {}
        self._numbers: dict[str, float | None] = {}  # quote text -> its number

    def merge(self, conid: int, data: Mapping[str, Any]) -> QuoteEvent:
        """Merge one ``smd`` frame (or snapshot row); returns its event (merged quote, the field
        ids -> text it changed). On a bad value nothing is merged (``WireFormatError`` names the
        conid and field)."""
        last = self._last.get(conid)
        if last is None:
            values: dict[str, Any] = {}
            fields: dict[str, str] = {}
        else:
            values = last.values.copy()  # type: ignore[union-attr]  # set on every event the book makes
            fields = last.fields.copy()  # type: ignore[union-attr]
        changed = convert.merge_quote(conid, data, values, fields, convert.quote_number, self._numbers)
        event = self._last[conid] = merged_quote_event(conid, changed, values, fields)
        return event

    def apply(self, conid: int, data: Mapping[str, Any]) -> tuple[m.Quote, dict[str, str]]:
        """:meth:`merge`, returning the merged :class:`Quote` and the field ids (-> text) it changed."""
        event = self.merge(conid, data)
        return event.quote, cast("dict[str, str]", event.changed)

    def get(self, conid: int) -> m.Quote | None:
        last = self._last.get(conid)
        return None if last is None else last.quote

    def snapshot(self) -> dict[int, m.Quote]:
        return {conid: last.quote for conid, last in self._last.items()}

    def __len__(self) -> int:
        return len(self._last)


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
