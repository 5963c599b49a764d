"""Frame decoding: one WebSocket text frame -> typed events, merged into :mod:`.state`. No I/O.

Unknown topics and malformed frames are logged and counted, never raised: one odd frame must not
take the stream down.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .. import models as m
from ..errors import WireFormatError
from ..masking import mask_text
from ..wire import convert
from .books import OrderBook, PnLBook, QuoteBook, TradeLog
from .events import (
    DepthEvent,
    DepthRow,
    OrderEvent,
    PnLEvent,
    StreamEvent,
    SystemEvent,
    TradeEvent,
)

log = logging.getLogger(__name__)


try:  # a package dependency; the stdlib below reads the same frames when it is missing
    import orjson
except ImportError:  # tests/streaming/test_decode_fast.py runs the decoder without it
    orjson = None  # type: ignore[assignment]

#: the C scanner json.loads runs, without its two Python layers
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

#: orjson reads an integer outside [-2**63, 2**64) as a float (the stdlib keeps the int): a float
#: this large sends the frame to the stdlib, so both readers give the same values
_BIG = float(2**63)
#: value types that cannot hold such a float
_SCALARS = frozenset({str, int, bool, type(None)})


def _loads_stdlib(text: str | bytes) -> Any:
    """:func:`json.loads` (the same strict JSON), quicker for the usual frame: one whole JSON text."""
    if text.__class__ is str:
        try:
            data, end = _scan(text, 0)
        except StopIteration:
            pass  # not JSON at index 0 (or leading whitespace): json.loads says which
        else:
            if end == len(text):
                return data
    return json.loads(text)  # bytes, trailing text, or an error with its message


def _has_big_float(data: Any) -> bool:
    """Whether a parsed value holds a float of magnitude >= 2**63 (maybe an integer orjson rounded)."""
    values = data.values() if data.__class__ is dict else data
    if _SCALARS.issuperset(map(type, values)):  # the usual object or list: told in one C pass
        return False
    for value in values:
        cls = value.__class__
        if cls is float:
            if not -_BIG < value < _BIG:
                return True
        elif (cls is dict or cls is list) and _has_big_float(value):
            return True
    return False


def _loads_orjson(text: str | bytes) -> Any:
    """:func:`json.loads`'s result by ``orjson`` (about 3x quicker). What orjson refuses and the
    stdlib reads (``NaN``, ``Infinity``, ``1e400``, lone surrogates, UTF-16 bytes) and what it reads
    differently (integers beyond 64 bits) goes to the stdlib, which also raises the error of a bad
    frame, with its message: the same values and errors either way."""
    try:
        data = orjson.loads(text)
    except ValueError:  # orjson.JSONDecodeError is a json.JSONDecodeError
        return json.loads(text)
    cls = data.__class__
    if cls is dict:  # the usual frame: an object of texts and integers, told in one C pass
        if not _SCALARS.issuperset(map(type, data.values())) and _has_big_float(data):
            return json.loads(text)
    elif (cls is list and _has_big_float(data)) or (cls is float and not -_BIG < data < _BIG):
        return json.loads(text)
    return data


#: the frame reader: orjson when installed, else the stdlib
_loads: Callable[[str | bytes], Any] = _loads_stdlib if orjson is None else _loads_orjson


def _int(value: Any) -> int:
    """An int by the package converter's rule (accepts ``"8314"`` as well as ``8314``)."""
    return value if value.__class__ is int else convert.parse_int(value)


def _target_int(topic: str) -> int | None:
    """``smd+8314`` / ``smd+8314@SMART`` -> 8314."""
    _, _, target = topic.partition("+")
    target = target.partition("@")[0].partition("+")[0]
    try:
        return int(target)
    except ValueError:
        return None


def parse_depth_row(item: Mapping[str, Any]) -> DepthRow:
    """A BookTrader row; ``price`` may read ``"size @ price"`` (REFERENCE §6.3)."""
    price_text = item.get("price")
    size: float | None = None
    if isinstance(price_text, str) and "@" in price_text:
        size_text, _, price_text = price_text.partition("@")
        size = convert.parse_number(size_text)
    row = item.get("row")
    return DepthRow(
        row=None if row is None else int(row),
        focus=bool(item.get("focus")),
        price=convert.parse_number(price_text),
        size=size,
        bid=convert.parse_number(item.get("bid")),
        ask=convert.parse_number(item.get("ask")),
    )


class FrameDecoder:
    """Decodes frames, keeps the merged state and the counters that :meth:`stats` reports."""

    def __init__(self) -> None:
        self.quotes = QuoteBook()
        self.orders = OrderBook()
        self.pnl = PnLBook()
        self.trades = TradeLog()
        self._counts: Counter[str] = Counter()
        self._frames = self._quotes = 0  # the two counted on every frame: plain ints are quicker
        self.unknown_topics: Counter[str] = Counter()
        self.last_error: str | None = None
        #: topic of the frame decoded last (``None`` for a frame without one): the stream's
        #: watchdog counts a frame of a topic as a sign of life even when it changed nothing
        self.last_topic: str | None = None
        self._handlers: dict[str, Callable[[str, dict[str, Any]], list[StreamEvent]]] = {
            "smd": self._smd,
            "sor": self._sor,
            "str": self._str,
            "sbd": self._sbd,
            "spl": self._spl,
            "smh": self._smh,
            "sys": self._system,
            "sts": self._sts,
            "act": self._unsolicited,
            "ntf": self._unsolicited,
            "blt": self._unsolicited,
            "tic": self._ignore,
            "ech": self._ignore,
        }

    @property
    def counts(self) -> Counter[str]:
        """Frames by what became of them: ``frames``, ``quotes``, ``orders``, ``bad_frames``, ..."""
        counts = self._counts
        if self._frames:
            counts["frames"] = self._frames
        if self._quotes:
            counts["quotes"] = self._quotes
        return counts

    # ---------------------------------------------------------------------------------- entry

    def feed(self, text: str | bytes) -> list[StreamEvent]:
        """Decode one frame; returns the events it produced (possibly none)."""
        self._frames += 1
        try:
            data = _loads(text)
        except ValueError:
            self.last_topic = None
            return self._bad(f"not JSON: {text[:80]!r}")
        if data.__class__ is not dict:
            self.last_topic = None
            return self._bad(f"not a JSON object: {type(data).__name__}")
        topic = data.get("topic")
        if topic.__class__ is not str:
            self.last_topic = None
            return self._topicless(data)
        self.last_topic = topic
        prefix = topic[:3]
        if prefix == "smd":  # the usual frame, a quote delta: no look-up, merged here when its
            conid = data.get("conid")  # conid is the usual integer (else by the handler)
            if conid.__class__ is int:
                try:
                    event = self.quotes.merge(conid, data)
                except (WireFormatError, ValueError, TypeError, KeyError) as exc:
                    return self._bad(f"{topic.partition('+')[0]}: {exc}")
                self._quotes += 1
                return [event]
            handler = self._smd
        else:
            handler = self._handlers.get(prefix)  # type: ignore[assignment]
            if handler is None or (prefix == "sys" and topic != "system"):
                self.unknown_topics[topic.partition("+")[0]] += 1
                log.info("unknown websocket topic %r ignored", mask_text(topic))
                return []
        try:
            return handler(topic, data)
        except (WireFormatError, ValueError, TypeError, KeyError) as exc:
            return self._bad(f"{topic.partition('+')[0]}: {exc}")

    def _bad(self, reason: str) -> list[StreamEvent]:
        self._counts["bad_frames"] += 1
        self.last_error = mask_text(reason)
        log.warning("websocket frame ignored: %s", self.last_error)
        return []

    def _topicless(self, data: dict[str, Any]) -> list[StreamEvent]:
        # {"message": "waiting for session"}, {"result": ...}, {"error": ...} (REFERENCE §6.2)
        if "error" in data:
            self._counts["errors"] += 1
            self.last_error = mask_text(str(data["error"]))
            log.warning("websocket error frame: %s", self.last_error)
            return [SystemEvent(kind="error", data=data)]
        if data.get("message") == "waiting for session":
            self._counts["waiting_for_session"] += 1
        else:
            self._counts["admin_frames"] += 1
            log.debug("websocket admin frame: %s", mask_text(str(data)[:200]))
        return []

    # ------------------------------------------------------------------------------- handlers

    def _smd(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        raw = data.get("conid")
        conid = raw if raw.__class__ is int else (_target_int(topic) if raw is None else _int(raw))
        if conid is None:
            self._counts["smd_without_conid"] += 1
            return []
        event = self.quotes.merge(conid, data)
        self._quotes += 1
        return [event]

    def _sor(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for item in _args_list(data):
            raw_id = item.get(convert.WIRE_ORDER_ID, item.get("order_id"))
            if raw_id is None:
                self._counts["sor_without_order_id"] += 1
                continue
            oid = _int(raw_id)
            merged = self.orders.apply(oid, item)
            if merged is None:
                self._counts["unchanged_orders"] += 1
                continue
            events.append(OrderEvent(order_id=oid, order=merged, changed=item))
        self._counts["orders"] += len(events)
        return events

    def _str(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for item in _args_list(data):
            trade = convert.structure(item, m.Trade)
            if self.trades.add(trade):
                events.append(TradeEvent(trade=trade))
            else:
                self._counts["duplicate_trades"] += 1
        self._counts["trades"] += len(events)
        touched = {self.orders.order_for(e.trade) for e in events if isinstance(e, TradeEvent)}
        events.extend(self.reconcile_fills(oid for oid in touched if oid is not None))
        return events

    def reconcile_fills(self, order_ids: Iterable[int] | None = None) -> list[OrderEvent]:
        """Bring orders up to date with the executions known for them (all orders by default)."""
        events: list[OrderEvent] = []
        for oid in list(self.orders.snapshot()) if order_ids is None else order_ids:
            order = self.orders.get(oid)
            if order is None:
                continue
            event = self.orders.reconcile_fills(oid, self.trades.for_order(oid, order.client_order_id))
            if event is not None:
                self._counts["fills_from_trades"] += 1
                events.append(event)
        return events

    def _sbd(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        # topic: sbd+{acctId}+{conid}
        parts = topic.split("+")
        account = parts[1] if len(parts) > 1 else None
        conid = None
        if len(parts) > 2:
            try:
                conid = int(parts[2])
            except ValueError:
                conid = None
        items = data.get("data")
        rows = tuple(parse_depth_row(r) for r in items if isinstance(r, Mapping)) if items else ()
        self._counts["depth"] += 1
        return [DepthEvent(account=account, conid=conid, rows=rows)]

    def _spl(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        args = data.get("args")
        if not isinstance(args, Mapping):
            return []
        events: list[StreamEvent] = []
        for key, value in args.items():
            if not isinstance(value, Mapping):
                continue
            row = self.pnl.apply(str(key), value)
            events.append(PnLEvent(key=str(key), row=row, changed=value))
        self._counts["pnl"] += len(events)
        return events

    def _smh(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        # Streaming history (REFERENCE §6.3): one history object as REST answers it; decoded to a
        # History on the system channel (kind "smh"); no channel of its own (issue 16.6).
        if "error" in data:
            return [SystemEvent(kind="error", data=data)]
        self._counts["smh"] += 1
        fields = {k: v for k, v in data.items() if k != "topic"}
        return [SystemEvent(kind="smh", data=convert.parse_history(fields))]

    def _system(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        if "hb" in data:
            self._counts["heartbeats"] += 1
            return [SystemEvent(kind="system", heartbeat=_int(data["hb"]), data=data)]
        success = data.get("success")
        return [SystemEvent(kind="system", username=None if success is None else str(success), data=data)]

    def _sts(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        args = data.get("args")
        auth = convert.structure(args if isinstance(args, Mapping) else {}, m.AuthStatus)
        self._counts["sts"] += 1
        return [SystemEvent(kind="sts", auth=auth, data=args)]

    def _unsolicited(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        kind = topic[:3]
        self._counts[kind] += 1
        return [SystemEvent(kind=kind, data=data.get("args", data))]

    def _ignore(self, topic: str, data: dict[str, Any]) -> list[StreamEvent]:
        self._counts[topic[:3]] += 1
        return []


def _args_list(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    args = data.get("args")
    if isinstance(args, Mapping):  # tolerate a bare object where a list is documented
        args = [args]
    if not isinstance(args, list):
        return []
    return [a for a in args if isinstance(a, Mapping)]
