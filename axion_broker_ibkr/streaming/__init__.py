"""Streaming over the gateway's one WebSocket: quotes, trades, depth, orders, P&L.

``IBKRStreaming`` is asyncio first (``async for event in stream.events(...)``, per-channel
callbacks); ``SyncStreaming`` runs it in a background thread for scripts. Frames are decoded into
the typed events of :mod:`.events` and merged into per-conid / per-order state (:mod:`.state`).
"""

from __future__ import annotations

from .consumers import EventStream
from .decode import FrameDecoder
from .events import (
    DepthEvent,
    DepthRow,
    OrderEvent,
    PnLEvent,
    QuoteEvent,
    StreamChannel,
    StreamEvent,
    SystemEvent,
    TradeEvent,
)
from .protocol import StreamClient
from .stream import IBKRStreaming
from .subscriptions import SubscriptionError
from .sync import SyncStreaming

__all__ = [
    "DepthEvent",
    "DepthRow",
    "EventStream",
    "FrameDecoder",
    "IBKRStreaming",
    "OrderEvent",
    "PnLEvent",
    "QuoteEvent",
    "StreamChannel",
    "StreamClient",
    "StreamEvent",
    "SubscriptionError",
    "SyncStreaming",
    "SystemEvent",
    "TradeEvent",
]
