"""The order engine: place (with questions), reply, modify, cancel, matching and fills.

Plain Python, no HTTP: the web layer and unit tests drive it directly. Every state change is
announced to listeners (``"order"`` with the order, ``"trade"`` with the execution) so that REST
and the WebSocket always show the same state.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import TicketError
from .brokerage import Session
from .clock import SimClock
from .paper_accounts import Account
from .paper_market import Market, round_to_tick
from .tickets import Ticket, TicketReader, check_price_reject, questions_for
from .universe import Instrument

OPEN_STATUSES = {"PreSubmitted", "Submitted", "PendingCancel"}
FINAL_STATUSES = {"Filled", "Cancelled", "Inactive"}
COID_WINDOW_S = 24 * 3600
#: A question left unanswered this long (sim seconds) expires; a late reply gets 400 "reply id not found".
#: The client trusts the same window for a held question (``orderpath.REPLY_WINDOW_S``);
#: ``/sim/advance_clock`` moves past it.
REPLY_TIMEOUT_S = 60.0
COMMISSION = {  # security type -> (per unit, minimum, maximum as a share of trade value)
    "STK": (0.005, 1.0, 0.01),
    "OPT": (0.65, 1.0, 1.0),
    "FUT": (2.25, 2.25, 1.0),
    "CASH": (0.00002, 2.0, 1.0),
    "BOND": (0.0001, 5.0, 1.0),
}


@dataclass
class Execution:
    execution_id: str
    order_id: int
    account: str
    inst: Instrument
    side: str
    quantity: float
    price: float
    commission: float
    time_ms: int
    order_ref: str | None
    exchange: str
    realized: float = 0.0


@dataclass
class Order:
    order_id: int
    ticket: Ticket
    created_ms: int
    session_seq: int
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_price: float = 0.0
    triggered: bool = False
    trail_stop: float | None = None
    parent_id: int | None = None
    oca_group: str | None = None
    last_exec_ms: int | None = None
    finished_seq: int | None = None
    cancel_requested: bool = False

    @property
    def inst(self) -> Instrument:
        return self.ticket.inst

    @property
    def account(self) -> str:
        return self.ticket.account

    @property
    def remaining(self) -> float:
        return max(0.0, self.ticket.quantity - self.filled)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class PendingReply:
    """An order request waiting for the answer to a question."""

    tickets: list[Ticket]
    questions: list[tuple[str, str]]
    created: float
    modify_id: int | None = None
    invalid: bool = False


@dataclass
class Reply:
    """What the web layer sends back: a JSON body and an HTTP status."""

    body: Any
    status: int = 200


class OrderEngine:
    def __init__(
        self,
        market: Market,
        accounts: dict[str, Account],
        session: Session,
        clock: SimClock,
        read_ticket: TicketReader,
    ) -> None:
        self.market = market
        #: One order of a request's JSON -> a ``Ticket`` (the API layer's reader of the gateway's fields).
        self.read_ticket = read_ticket
        self.accounts = accounts
        self.session = session
        self.clock = clock
        self.orders: dict[int, Order] = {}
        self.executions: list[Execution] = []
        self.coids: dict[str, float] = {}
        self.pending: dict[str, PendingReply] = {}
        self.listeners: list[Callable[[str, Any], None]] = []
        #: Modifying a bracket parent's quantity resizes its open children to it (TWS adjusts attached
        #: orders so; [unconfirmed] for the Client Portal API, whose docs say nothing). ``False``
        #: (admin ``config(children_follow_parent=False)``): the children keep theirs and the client
        #: resizes them with one modification each. The client is tolerant of both.
        self.children_follow_parent = True
        self._ids = itertools.count(1_800_000_001)
        self._exec_ids = itertools.count(1)

    # -- events ---------------------------------------------------------------------------------

    def _emit(self, kind: str, obj: Any) -> None:
        for listener in list(self.listeners):
            listener(kind, obj)

    def _set_status(self, order: Order, status: str) -> None:
        if order.status == status:
            return
        order.status = status
        if status in FINAL_STATUSES:
            order.finished_seq = self.session.seq
        self._emit("order", order)

    # -- place / reply ----------------------------------------------------------------------------

    def parse(self, body: Any, default_account: str) -> list[Ticket]:
        orders = body.get("orders") if isinstance(body, dict) else body
        # [conflict] REFERENCE §4.1: the wrapper {"orders": [...]} is what working clients send; the
        # newer docs send a bare array. Both are accepted.
        if not isinstance(orders, list) or not orders:
            raise TicketError('Bad Request: body must be {"orders": [ ... ]} with at least one order', 400)
        tickets = [
            self.read_ticket(self.market.universe, o, default_account, tuple(self.accounts)) for o in orders
        ]
        parents = {t.coid for t in tickets if t.coid}
        for t in tickets:
            if t.parent_coid and t.parent_coid not in parents:
                raise TicketError(f"Parent order {t.parent_coid} not found in this request")
        if len(tickets) > 1 and not (
            any(t.parent_coid for t in tickets) or all(t.single_group for t in tickets)
        ):
            raise TicketError(
                "Only one order per request, except brackets (parentId) and OCA groups (isSingleGroup)"
            )
        return tickets

    def place(self, account_path: str, body: Any) -> Reply:
        self._invalidate_pending()
        try:
            tickets = self.parse(body, account_path)
            now = self.clock.now()
            seen: set[str] = set()
            for t in tickets:
                if t.coid:
                    registered = self.coids.get(t.coid)
                    if t.coid in seen or (registered is not None and now - registered < COID_WINDOW_S):
                        raise TicketError(
                            f"Order couldn't be submitted: Local order ID={t.coid} is already registered."
                        )
                    seen.add(t.coid)
                check_price_reject(t, self.market)
        except TicketError as exc:
            return Reply({"error": exc.message}, exc.status)
        return self._ask_or_submit(tickets, self._questions(tickets), None)

    def _questions(self, tickets: list[Ticket]) -> list[tuple[str, str]]:
        now = self.clock.now()
        out: list[tuple[str, str]] = []
        for t in tickets:
            for mid, text in questions_for(t, self.market, self.session.has_stream(t.inst.conid, now)):
                if mid not in self.session.suppressed and all(mid != m for m, _ in out):
                    out.append((mid, text))
        return out

    def _ask_or_submit(
        self, tickets: list[Ticket], questions: list[tuple[str, str]], modify_id: int | None
    ) -> Reply:
        if questions:
            reply_id = str(uuid.uuid4())
            self.pending[reply_id] = PendingReply(tickets, questions, self.clock.now(), modify_id)
            mid, text = questions[0]
            return Reply([{"id": reply_id, "message": [text], "isSuppressed": False, "messageIds": [mid]}])
        if modify_id is not None:
            return self._apply_modify(modify_id, tickets[0])
        return Reply(self._submit(tickets))

    def _invalidate_pending(self) -> None:
        for pending in self.pending.values():
            pending.invalid = True

    def reply(self, reply_id: str, confirmed: bool) -> Reply:
        pending = self.pending.pop(reply_id, None)
        now = self.clock.now()
        if pending is None or now - pending.created > REPLY_TIMEOUT_S:
            # Settled by ibind issues #35 and #103 (users quoting a real gateway): an unknown or
            # expired reply id answers 400 with this exact text, not 503.
            return Reply({"error": f"reply id not found: '{reply_id}'"}, 400)
        if pending.invalid:
            # Our own choice: a question superseded by another order keeps the 503 wording.
            return Reply(
                {"error": "Order reply timed out or was invalidated by another request", "statusCode": 503},
                503,
            )
        if not confirmed:
            return Reply({"error": "Order was not confirmed and has been discarded."})
        return self._ask_or_submit(pending.tickets, pending.questions[1:], pending.modify_id)

    def _submit(self, tickets: list[Ticket]) -> list[dict[str, Any]]:
        now_ms = self.clock.now_ms()
        created: list[Order] = []
        by_coid: dict[str, Order] = {}
        oca = (
            f"oca-{next(self._exec_ids)}"
            if len(tickets) > 1 and all(t.single_group for t in tickets)
            else None
        )
        for t in tickets:
            order = Order(next(self._ids), t, now_ms, self.session.seq)
            if t.coid:
                self.coids[t.coid] = self.clock.now()
                by_coid[t.coid] = order
            if t.parent_coid:
                parent = by_coid[t.parent_coid]
                order.parent_id = parent.order_id
                order.oca_group = f"bracket-{parent.order_id}"  # children of a bracket are one OCA group
            elif oca:
                order.oca_group = oca
            self.orders[order.order_id] = order
            created.append(order)
            self._emit("order", order)
        for order in created:
            if order.parent_id is None:
                self._activate(order)
        # Children of a bracket / OTO stay PreSubmitted (held: accepted, not working) until the parent
        # fills (REFERENCE §4.9: PreSubmitted = transmitted, not yet working at the venue).
        return [
            {"order_id": str(o.order_id), "order_status": o.status, "encrypt_message": "1"} for o in created
        ]

    def _activate(self, order: Order) -> None:
        """The order reaches the (simulated) venue: stops wait PreSubmitted, the rest are Submitted."""
        waits = order.ticket.order_type in {"STP", "STOP_LIMIT", "TRAIL", "TRAILLMT"} and not order.triggered
        self._set_status(order, "PreSubmitted" if waits else "Submitted")
        self._match(order)
        if order.ticket.tif == "IOC" and order.is_open:
            self._set_status(order, "Cancelled")

    # -- modify / cancel ---------------------------------------------------------------------------

    def modify(self, account_path: str, order_id: int, body: Any) -> Reply:
        self._invalidate_pending()
        order = self.orders.get(order_id)
        if order is None:
            return Reply({"error": f"OrderID {order_id} doesn't exist"})
        if not order.is_open or order.status == "PendingCancel":
            return Reply({"error": f"Order {order_id} cannot be modified: it is {order.status}"})
        if not isinstance(body, dict) or "orders" in body:
            return Reply(
                {"error": "Bad Request: modify takes a single order object (no 'orders' wrapper)"}, 400
            )
        raw = {**order.ticket.raw, **body}
        raw.setdefault("acctId", order.account)
        try:
            ticket = self.read_ticket(self.market.universe, raw, account_path, tuple(self.accounts))
            if ticket.inst.conid != order.inst.conid or ticket.side != order.ticket.side:
                raise TicketError("Modify cannot change the contract or the side of an order")
            if ticket.quantity < order.filled:
                raise TicketError(f"Quantity {ticket.quantity:g} is below the filled {order.filled:g}")
            check_price_reject(ticket, self.market)
        except TicketError as exc:
            return Reply({"error": exc.message}, exc.status)
        ticket.coid = order.ticket.coid
        ticket.parent_coid = order.ticket.parent_coid
        return self._ask_or_submit([ticket], self._questions([ticket]), order_id)

    def _apply_modify(self, order_id: int, ticket: Ticket) -> Reply:
        order = self.orders[order_id]
        if not order.is_open:
            return Reply({"error": f"Order {order_id} cannot be modified: it is {order.status}"})
        resized = ticket.quantity != order.ticket.quantity
        order.ticket = ticket
        order.trail_stop = None
        self._emit("order", order)
        if resized and self.children_follow_parent:
            for child in self.children(order):
                if child.is_open and not child.cancel_requested:
                    child.ticket.quantity = max(child.filled, ticket.quantity)
                    self._emit("order", child)
        if order.parent_id is None or self.orders[order.parent_id].status == "Filled":
            self._match(order)
        return Reply([{"order_id": str(order_id), "order_status": order.status, "encrypt_message": "1"}])

    def cancel(self, account_path: str, order_id: int, query: dict[str, str]) -> Reply:
        self._invalidate_pending()
        if order_id == -1:
            for open_order in self.orders.values():
                if open_order.is_open and open_order.account == account_path:
                    self._request_cancel(open_order)
            return Reply({"msg": "Request was submitted", "order_id": -1, "conid": -1, "account": None})
        order = self.orders.get(order_id)
        if order is None or order.account != account_path:
            return Reply({"error": f"OrderID {order_id} doesn't exist"})
        if order.inst.sec_type == "FUT" and ("manualIndicator" not in query or not query.get("extOperator")):
            return Reply({"error": "Futures order cancels must carry manualIndicator and extOperator"})
        if not order.is_open:
            return Reply({"error": f"Order {order_id} cannot be cancelled: it is {order.status}"})
        self._request_cancel(order)
        return Reply(
            {
                "msg": "Request was submitted",
                "order_id": order_id,
                "conid": order.inst.conid,
                "account": order.account,
            }
        )

    def _request_cancel(self, order: Order, cascade: bool = True) -> None:
        """Cancels are acknowledged first (PendingCancel) and confirmed on the next market tick.

        Cancelling a parent cancels its children, and cancelling a bracket child cancels its siblings
        (IBKR's OpenAPI ``orders`` note: "When you cancel a parent order, it will cancel all bracket
        orders, when you cancel one child order, it will also cancel its sibling order"). A parent
        that has partly filled keeps its children: they protect the filled part (sized to it)."""
        order.cancel_requested = True
        self._set_status(order, "PendingCancel")
        if not cascade:
            return
        if order.filled <= 0:
            for child in self.children(order):
                if child.is_open and not child.cancel_requested:
                    self._request_cancel(child)
        if order.parent_id is not None:
            for sibling in self.children(self.orders[order.parent_id]):
                if sibling is not order and sibling.is_open and not sibling.cancel_requested:
                    self._request_cancel(sibling, cascade=False)

    def children(self, order: Order) -> list[Order]:
        return [o for o in self.orders.values() if o.parent_id == order.order_id]

    # -- matching --------------------------------------------------------------------------------------

    def tick(self) -> None:
        """One market tick: confirm pending cancels, expire DAY orders, trigger stops, fill."""
        today = self.clock.today()
        for order in list(self.orders.values()):
            if order.status == "PendingCancel":
                self._set_status(order, "Cancelled")
            elif order.is_open and order.ticket.tif in {"DAY", "IOC"} and self._created_day(order) < today:
                self._set_status(order, "Cancelled")  # DAY orders end with the (UTC) trading day
            elif order.is_open:
                self._match(order)

    @staticmethod
    def _created_day(order: Order) -> dt.date:
        return dt.datetime.fromtimestamp(order.created_ms / 1000, tz=dt.UTC).date()

    def _active(self, order: Order) -> bool:
        if not order.is_open or order.status == "PendingCancel":
            return False
        return order.parent_id is None or self.orders[order.parent_id].filled > 0

    def fillable(self, order: Order) -> float:
        """What may fill now. A bracket child covers only what its parent has filled, less what its
        siblings already sold (IBKR activates the attached orders with the entry's partial fills)."""
        if order.parent_id is None:
            return order.remaining
        parent = self.orders[order.parent_id]
        covered = sum(o.filled for o in self.children(parent) if o.oca_group == order.oca_group)
        return max(0.0, min(order.remaining, parent.filled - covered))

    def _match(self, order: Order) -> None:
        if not self._active(order):
            return
        t = order.ticket
        q = self.market.quote(order.inst.conid)
        kind = t.order_type
        if kind in {"STP", "STOP_LIMIT", "TRAIL", "TRAILLMT"} and not order.triggered:
            stop = self._stop_price(order, q.last)
            hit = q.last >= stop if t.side == "BUY" else q.last <= stop
            if not hit:
                return
            order.triggered = True
            self._set_status(order, "Submitted")
        touch = q.ask if t.side == "BUY" else q.bid
        size = q.ask_size if t.side == "BUY" else q.bid_size
        limit: float | None
        if kind in {"MKT", "STP", "TRAIL"}:
            limit = None
        elif kind in {"LMT", "STOP_LIMIT"}:
            limit = t.price
        elif kind == "TRAILLMT":
            offset = (t.price or 0.0) - (t.aux_price or 0.0)
            limit = (order.trail_stop or 0.0) + offset
        else:  # MIDPRICE: fills at the mid, capped by price
            touch = round_to_tick((q.bid + q.ask) / 2, order.inst.tick)
            limit = t.price
        if limit is not None and (
            (t.side == "BUY" and touch > limit) or (t.side == "SELL" and touch < limit)
        ):
            return
        qty = min(self.fillable(order), size) if size > 0 else 0.0
        if qty <= 0:
            return
        if t.side == "BUY":
            q.ask_size = max(0.0, q.ask_size - qty)
        else:
            q.bid_size = max(0.0, q.bid_size - qty)
        self.fill(order, qty, touch)

    def _stop_price(self, order: Order, last: float) -> float:
        t = order.ticket
        if t.order_type == "STP":
            return t.price or 0.0
        if t.order_type == "STOP_LIMIT":
            return t.aux_price or 0.0
        amount = t.trailing_amt or 0.0
        offset = last * amount / 100 if t.trailing_type == "%" else amount
        candidate = last + offset if t.side == "BUY" else last - offset
        if order.trail_stop is None:
            order.trail_stop = candidate
        elif t.side == "BUY":
            order.trail_stop = min(order.trail_stop, candidate)
        else:
            order.trail_stop = max(order.trail_stop, candidate)
        return order.trail_stop

    def fill(self, order: Order, qty: float, price: float) -> Execution:
        """Book a fill of ``qty`` at ``price``: execution, account, order state, brackets, OCA."""
        inst = order.inst
        qty = min(qty, order.remaining)
        if qty <= 0:
            raise ValueError(f"order {order.order_id} has nothing left to fill")
        per_unit, minimum, cap = COMMISSION.get(inst.sec_type, (0.0, 0.0, 1.0))
        value = qty * price * inst.multiplier
        commission = round(min(max(per_unit * qty, minimum), max(minimum, value * cap)), 2)
        now_ms = self.clock.now_ms()
        account = self.accounts[order.account]
        realized = account.apply_fill(inst, order.ticket.side, qty, price, commission)
        execution = Execution(
            execution_id=f"0000e0d5.{now_ms // 1000:08x}.{next(self._exec_ids):02d}.01",
            order_id=order.order_id,
            account=order.account,
            inst=inst,
            side=order.ticket.side,
            quantity=qty,
            price=price,
            commission=commission,
            time_ms=now_ms,
            order_ref=order.ticket.coid,
            exchange="IDEALPRO" if inst.sec_type == "CASH" else ("ISLAND" if inst.is_us else inst.exchange),
            realized=realized,
        )
        self.executions.append(execution)
        order.avg_price = (order.avg_price * order.filled + price * qty) / (order.filled + qty)
        order.filled += qty
        order.last_exec_ms = now_ms
        self._emit("trade", execution)
        if order.remaining <= 1e-9:
            self._set_status(order, "Filled")
        else:
            self._emit("order", order)
        if order.oca_group:
            self._reduce_oca(order, qty)
        for child in self.children(order):  # the entry's fills (partial too) activate its children
            if child.is_open and not child.cancel_requested:
                self._activate(child)
        return execution

    def _reduce_oca(self, order: Order, qty: float) -> None:
        """One-cancels-other with reduction: a fill of ``qty`` takes ``qty`` off every other open
        order of the group; the others are cancelled once this one is filled or nothing is left."""
        for other in self.orders.values():
            if other is order or other.oca_group != order.oca_group or not other.is_open:
                continue
            if order.status == "Filled":
                self._set_status(other, "Cancelled")
                continue
            other.ticket.quantity = max(other.filled, other.ticket.quantity - qty)
            if other.remaining <= 1e-9:
                self._set_status(other, "Cancelled")
            else:
                self._emit("order", other)

    def force_fill(
        self, order_id: int, quantity: float | None = None, price: float | None = None
    ) -> Execution:
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(f"order_id: no order {order_id}")
        if not order.is_open:
            raise ValueError(f"order_id: order {order_id} is {order.status}, not open")
        q = self.market.quote(order.inst.conid)
        fill_price = (
            price
            if price is not None
            else (order.ticket.price or (q.ask if order.ticket.side == "BUY" else q.bid))
        )
        fillable = self.fillable(order)
        if fillable <= 0:
            raise ValueError(f"order_id: order {order_id} is held until its parent fills")
        return self.fill(order, min(quantity or fillable, fillable), fill_price)

    def visible(self, order: Order) -> bool:
        """Orders the current brokerage session knows: working ones, and those that finished in it."""
        return (
            order.is_open or order.finished_seq == self.session.seq or order.session_seq == self.session.seq
        )
