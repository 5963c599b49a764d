"""Typed events published by :class:`~axion_broker_ibkr.streaming.IBKRStreaming`.

Every event names its :class:`StreamChannel`. Data events carry both what the frame changed
(the *delta*) and the merged state after applying it, because IBKR's ``smd`` and ``sor`` frames
after the first carry only the fields that changed (REFERENCE §9.15).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from attrs import define, field
from attrs.exceptions import FrozenInstanceError

from .. import models as m
from ..wire import convert


class StreamChannel(enum.Enum):
    """What a consumer listens to. ``SYSTEM`` carries the unsolicited topics and connection state."""

    QUOTE = "quote"  # smd
    TRADES = "trades"  # str
    DEPTH = "depth"  # sbd
    ORDERS = "orders"  # sor
    PNL = "pnl"  # spl
    SYSTEM = "system"  # system, sts, act, ntf, blt + connection state


_set = object.__setattr__


class QuoteEvent:
    """One ``smd`` frame: ``changed`` holds the field ids (-> raw text) this frame carried.

    ``quote`` is the merged :class:`Quote` after this frame. The stream's quote book passes the
    merged ``values`` (Quote attribute -> value, numbers already parsed) and ``fields`` (every field
    id -> text) instead of a built quote: the frozen ``Quote`` object is made once, on first access,
    so a consumer that drops or skips quote events never pays for it. Immutable, like the other
    events.
    """

    __slots__ = ("_quote", "changed", "conid", "fields", "values")
    channel: ClassVar[StreamChannel] = StreamChannel.QUOTE
    conid: int
    changed: Mapping[str, str]
    #: the merged Quote attribute values and field texts the quote is built from (not to be changed)
    values: dict[str, Any] | None
    fields: dict[str, str] | None
    _quote: m.Quote | None

    def __init__(
        self,
        *,
        conid: int,
        changed: Mapping[str, str],
        quote: m.Quote | None = None,
        values: dict[str, Any] | None = None,
        fields: dict[str, str] | None = None,
    ) -> None:
        if quote is None and (values is None or fields is None):
            raise TypeError("QuoteEvent needs the merged quote, or its values and fields")
        _set(self, "conid", conid)
        _set(self, "changed", changed)
        _set(self, "_quote", quote)
        _set(self, "values", values)
        _set(self, "fields", fields)

    @property
    def quote(self) -> m.Quote:
        """The merged :class:`Quote` after this frame."""
        quote: m.Quote | None = self._quote
        if quote is None:
            quote = m.Quote(conid=self.conid, fields=self.fields, **self.values)  # type: ignore[arg-type]
            _set(self, "_quote", quote)
        return quote

    @property
    def delta(self) -> m.Quote:
        """A :class:`Quote` built from this frame's fields only (everything else ``None``)."""
        return convert.quote_from_wire({"conid": self.conid, **self.changed})

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, QuoteEvent)
        return (self.conid, self.changed, self.quote) == (other.conid, other.changed, other.quote)

    __hash__ = None  # type: ignore[assignment]  # ``changed`` is a mapping, as with the attrs events

    def __repr__(self) -> str:
        return (
            f"QuoteEvent(channel={self.channel!r}, conid={self.conid!r}, quote={self.quote!r}, "
            f"changed={self.changed!r})"
        )


class _MergedQuoteEvent:
    """Builds a :class:`QuoteEvent` as plain slot assignments (quicker than the frozen class's
    guarded ones), then makes it the frozen class: the two have the same slots."""

    __slots__ = QuoteEvent.__slots__

    def __init__(
        self, conid: int, changed: Mapping[str, str], values: dict[str, Any], fields: dict[str, str]
    ) -> None:
        self.conid, self.changed, self.values, self.fields = conid, changed, values, fields
        self._quote = None
        self.__class__ = QuoteEvent  # type: ignore[assignment]


#: ``merged_quote_event(conid, changed, values, fields)``: ``QuoteEvent(conid=..., changed=...,
#: values=..., fields=...)`` as the quote book makes one per frame, the same object without the
#: keyword call and the frozen class's guarded assignments
merged_quote_event: Callable[[int, Mapping[str, str], dict[str, Any], dict[str, str]], QuoteEvent]
merged_quote_event = _MergedQuoteEvent  # type: ignore[assignment]


@define(frozen=True, kw_only=True, slots=True)
class OrderEvent:
    """A change of one order: the merged ``order`` and what changed (``changed`` / ``delta``).

    ``source`` is ``"ws"`` for a ``sor`` frame and ``"rest"`` for a change found when order state
    was rebuilt from ``/iserver/account/orders`` (start-up, reconnect): fills made during an outage
    arrive that way.
    """

    channel: StreamChannel = field(default=StreamChannel.ORDERS, init=False)
    order_id: int
    order: m.Order
    changed: Mapping[str, Any]  # wire-named fields of the change
    source: str = "ws"

    @property
    def delta(self) -> m.Order:
        """The change as an :class:`Order` (fields it did not touch are ``None``)."""
        return convert.structure(self.changed, m.Order)


@define(frozen=True, kw_only=True, slots=True)
class TradeEvent:
    """One execution (``str`` item, or a back-filled ``/iserver/account/trades`` row)."""

    channel: StreamChannel = field(default=StreamChannel.TRADES, init=False)
    trade: m.Trade
    source: str = "ws"


@define(frozen=True, kw_only=True, slots=True)
class DepthRow:
    """One BookTrader ladder row; ``size`` is split out of a ``"size @ price"`` text when present."""

    row: int | None = None
    focus: bool = False
    price: float | None = None
    size: float | None = None
    bid: float | None = None
    ask: float | None = None


@define(frozen=True, kw_only=True, slots=True)
class DepthEvent:
    """One ``sbd`` frame: the rows it carried (a ladder snapshot for ``account``/``conid``)."""

    channel: StreamChannel = field(default=StreamChannel.DEPTH, init=False)
    account: str | None
    conid: int | None
    rows: tuple[DepthRow, ...]


@define(frozen=True, kw_only=True, slots=True)
class PnLEvent:
    """One P&L partition (key ``<acct>.Core``) of an ``spl`` frame: partial ``delta``, merged ``row``."""

    channel: StreamChannel = field(default=StreamChannel.PNL, init=False)
    key: str
    row: m.PnLRow
    changed: Mapping[str, Any]

    @property
    def delta(self) -> m.PnLRow:
        return convert.structure(self.changed, m.PnLRow)


@define(frozen=True, kw_only=True, slots=True)
class SystemEvent:
    """Unsolicited frames and connection state.

    ``kind`` is one of ``"system"`` (``username`` on connect, ``heartbeat`` epoch ms later),
    ``"sts"`` (``auth``), ``"act"``, ``"ntf"``, ``"blt"``, ``"error"`` (``data`` holds the payload),
    ``"smh"`` (``data`` is the :class:`~axion_broker_ibkr.models.History` of a streaming-history frame),
    or ``"state"`` (``state`` holds the connection state of the stream).
    """

    channel: StreamChannel = field(default=StreamChannel.SYSTEM, init=False)
    kind: str
    username: str | None = None
    heartbeat: int | None = None
    auth: m.AuthStatus | None = None
    state: str | None = None
    data: Any = None


StreamEvent = QuoteEvent | OrderEvent | TradeEvent | DepthEvent | PnLEvent | SystemEvent

#: Events a slow consumer may lose (oldest first). Everything else is always delivered.
DROPPABLE: tuple[type[Any], ...] = (QuoteEvent, DepthEvent)
