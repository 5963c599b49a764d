"""Typed events published by :class:`~axion_broker_ibkr.streaming.IBKRStreaming`.

Every event names its :class:`StreamChannel`. Data events carry both what the frame changed
(the *delta*) and the merged state after applying it, because IBKR's ``smd`` and ``sor`` frames
after the first carry only the fields that changed (REFERENCE §9.15).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from attrs import define, field

from .. import convert
from .. import models as m


class StreamChannel(enum.Enum):
    """What a consumer listens to. ``SYSTEM`` carries the unsolicited topics and connection state."""

    QUOTE = "quote"  # smd
    TRADES = "trades"  # str
    DEPTH = "depth"  # sbd
    ORDERS = "orders"  # sor
    PNL = "pnl"  # spl
    SYSTEM = "system"  # system, sts, act, ntf, blt + connection state


@define(frozen=True, kw_only=True, slots=True)
class QuoteEvent:
    """One ``smd`` frame: ``changed`` holds the field ids (-> raw text) this frame carried."""

    channel: StreamChannel = field(default=StreamChannel.QUOTE, init=False)
    conid: int
    quote: m.Quote
    changed: Mapping[str, str]

    @property
    def delta(self) -> m.Quote:
        """A :class:`Quote` built from this frame's fields only (everything else ``None``)."""
        return convert.quote_from_wire({"conid": self.conid, **self.changed})


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
