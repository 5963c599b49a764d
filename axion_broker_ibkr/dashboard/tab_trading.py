"""Trading tab: contract search, order ticket, what-if preview, explicit confirmation, live orders
with cancel/modify, recent fills.

Nothing here sends an order on a single click: "Review order" validates the ticket locally and
parks it (with a fresh cOID) under ``trade_pending``; only "Confirm and send" sends it, and it
pops the parked order first, so a double click cannot send it twice. A question IBKR asks is held
for the trader (``hold_questions``) and shown with the ticket it belongs to in the question box
(:mod:`.question_box`); its "Yes" answers IBKR for that same order (same cOID, one log row).
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import streamlit as st

from ..errors import IBKRError, QuestionRefusedError
from ..masking import mask_text
from ..models import IBKRContract, OrderResult
from ..naming import describe_contract
from ..orders import new_client_order_id, translate_order
from . import bracket_ticket, contract_finder, live, question_box, vm_trading
from .errors_text import explain
from .factory import DashboardSession
from .page_cache import cached, invalidate
from .tables import table

log = logging.getLogger(__name__)

PENDING = "trade_pending"
QUESTION = question_box.QUESTION
LAST_RESULT = "trade_last_result"
LAST_ERROR = "trade_last_error"
MODIFY_PENDING = "orders_modify_pending"
CANCELLING = "orders_cancelling"
LIVE_SEEN = "orders_live_seen"
#: The conid of the contract the bracket banner shown belongs to.
BRACKET_OWNER = "bracket_banner_conid"
TICKET_QUOTE_EVERY = 1.0
#: Cancel requests run here, beside the page (the order log's status read-back included).
_CANCELS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ibkr-page-cancel")
# Shut down when the server stops: no new cancel starts then, one already sent finishes.
atexit.register(_CANCELS.shutdown)


def _order_types(session: DashboardSession, contract: IBKRContract) -> list[str]:
    """The order types the ticket offers for ``contract``: as IBKR's contract rules list them (read
    once per conid and kept; the buy side's, as IBKR's ticket does), the plugin's table without them."""
    listed: tuple[str, ...] | list[str] | None = contract.order_types
    if not listed and contract.conid > 0:
        try:
            rules = cached(
                f"rules:{contract.conid}", partial(session.client.contract_rules, contract.conid), 3600.0
            )
        except IBKRError:
            rules = None
        listed = rules.order_types if rules is not None else None
    return vm_trading.order_types_for(contract.sec_type, listed)


def _ticket_inputs(session: DashboardSession, contract: IBKRContract) -> dict[str, Any]:
    c1, c2, c3, c4 = st.columns(4)
    side = c1.radio("Side", vm_trading.SIDES, format_func=str.upper, key="trade_side", horizontal=True)
    qty = c2.number_input("Quantity", min_value=0.0, value=1.0, step=1.0, key="trade_qty")
    order_type = c3.selectbox("Order type", _order_types(session, contract), key="trade_type")
    tif = c4.selectbox("Time in force", vm_trading.TIFS, format_func=str.upper, key="trade_tif")
    needs_limit, needs_stop = vm_trading.ORDER_TYPES[order_type or "limit"]
    limit = stop = None
    if needs_limit:
        label = vm_trading.price_label(order_type or "limit")
        limit = st.number_input(label, min_value=0.0, value=None, format="%.4f", key="trade_limit")
    if needs_stop:
        stop = st.number_input("Stop price", min_value=0.0, value=None, format="%.4f", key="trade_stop")
    return {
        "side": side or "buy",
        "quantity": float(qty or 0.0),
        "order_type": order_type or "limit",
        "limit_price": limit,
        "stop_price": stop,
        "time_in_force": tif or "day",
    }


def _preview(session: DashboardSession, order: dict[str, Any], contract: IBKRContract) -> None:
    with live.action(f"Asking IBKR for a what-if of {describe_contract(contract)}…"):
        whatif = session.client.whatif(order, contract)
    _whatif_panel(whatif, "trade_whatif_table", empty_table=True)


def _whatif_panel(whatif: Any, key: str, *, empty_table: bool) -> None:
    """IBKR's what-if: its error, the amount/commission/total headline, the rows (table ``key``;
    with no rows drawn only if ``empty_table``) and its warning."""
    if whatif.error:
        st.error(f"IBKR: {whatif.error}")
    head = vm_trading.whatif_headline(whatif)
    c1, c2, c3 = st.columns(3)
    c1.metric("Amount", head["amount"] or "—")
    c2.metric("Commission", head["commission"] or "—")
    c3.metric("Total", head["total"] or "—")
    rows = vm_trading.whatif_rows(whatif)
    if rows or empty_table:
        table(rows, key)
    code, text = vm_trading.split_warning(whatif.warn)
    if text:
        st.warning(f"IBKR warning {code or ''}: {text}".replace("  ", " "))


def _send(session: DashboardSession, parked: dict[str, Any]) -> None:
    """Send a parked ticket. A question IBKR asks is held for the trader (nothing is at IBKR yet;
    the row is ``awaiting_answer``) and parked with this ticket for the question box."""
    order, contract = parked["order"], parked["contract"]
    try:
        result: OrderResult = session.client.place_order(order, contract, hold_questions=True)
    except QuestionRefusedError as exc:  # held questions never land here; a question loop does
        st.session_state[LAST_ERROR] = explain(exc)
        return
    except IBKRError as exc:
        # Rejected, refused before sending, or state unknown (never re-sent): the trader reads why.
        st.session_state[LAST_ERROR] = explain(exc)
        return
    finally:
        invalidate("orders:")
    if result.question is not None:
        st.session_state[QUESTION] = question_box.park(parked, result)
        return
    _settled(result, session)


def _settled(result: OrderResult, session: DashboardSession | None = None) -> None:
    """The order was placed: its banner, and (with ``session``) a short wait until the order stream
    lists it, so the live-orders table drawn next shows it."""
    invalidate("orders:")
    st.session_state[LAST_RESULT] = result
    st.session_state.pop(LAST_ERROR, None)
    st.session_state.pop(CANCELLING, None)
    if session is not None and result.order_id is not None and str(result.order_id).isdigit():
        with st.spinner(f"Waiting for order {result.order_id} on IBKR's order stream…"):
            live.await_order(session, int(str(result.order_id)), lambda o: o is not None)


def _failed(exc: Exception) -> None:
    invalidate("orders:")
    st.session_state[LAST_ERROR] = explain(exc)


def _confirmation(session: DashboardSession) -> None:
    parked = st.session_state.get(PENDING)
    if not parked:
        return
    with st.container(border=True):
        st.markdown(f"**Confirm order:** {parked['summary']}")
        st.markdown("\n".join(f"- {line}" for line in parked.get("lines", ())))
        st.caption(f"client order id {parked['order']['client_order_id']} · {session.mode} mode")
        c1, c2 = st.columns(2)
        can_send = session.order_log.can_send
        if c1.button(
            "Confirm and send",
            key="trade_confirm",
            type="primary",
            icon=":material/send:",
            disabled=not can_send,
        ):
            st.session_state.pop(PENDING, None)  # first: a second click finds nothing to send
            with live.action("Sending…"):
                _send(session, parked)
            st.rerun()
        if c2.button("Discard", key="trade_abort"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _ticket_quote(session: DashboardSession, contract: IBKRContract) -> None:
    """Bid / ask / last of the picked contract, from the stream (a snapshot until its first frame)."""
    try:
        quote, source = live.quote(session, contract.conid)
    except IBKRError as exc:
        st.caption(f"No quote: {explain(exc)}")
        return
    cells = vm_trading.ticket_quote(quote)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Bid", cells["bid"])
    c2.metric("Ask", cells["ask"])
    c3.metric("Last", cells["last"])
    c4.metric("Spread", cells["spread"])
    where = "live from the stream" if source == "stream" else "snapshot (the stream has not sent it yet)"
    st.caption(f"{describe_contract(contract)} · {where}{cells['note']}")


def _ticket(session: DashboardSession, contract: IBKRContract) -> None:
    st.markdown(f"**Contract:** {vm_trading.contract_label(contract)}")
    st.fragment(run_every=TICKET_QUOTE_EVERY)(_ticket_quote)(session, contract)
    inputs = _ticket_inputs(session, contract)
    c1, c2 = st.columns(2)
    preview = c1.button("Preview (what-if)", key="trade_preview", icon=":material/preview:")
    review = c2.button(
        "Review order…",
        key="trade_review",
        icon=":material/fact_check:",
        disabled=not session.order_log.can_send,
    )
    if not (preview or review):
        return
    ticket = vm_trading.ticket_for(contract, client_order_id=new_client_order_id(), **inputs)
    order = vm_trading.host_order(ticket)
    # Validated locally with the client's own options: a bad ticket never leaves the page.
    translate_order(order, contract.to_host(), session.translate_options())
    if preview:
        _preview(session, order, contract)
    else:
        # The client's own translation (its account, the contract's IBKR rules, the tick grid):
        # exactly the payload "Confirm and send" sends.
        payload = session.client.order_payload(order, contract)
        summary, lines = vm_trading.confirm_ticket(order, payload, contract)
        st.session_state[PENDING] = {"order": order, "contract": contract, "summary": summary, "lines": lines}
        st.rerun()


def _live_orders(session: DashboardSession) -> None:
    """Live orders and fills that follow the order/trade stream (no refresh needed); the picker
    and its cancel/modify panel below them."""
    c1, c2 = st.columns([4, 1])
    c1.subheader("Live orders", anchor=False)
    # Where a cancel pressed below says IBKR's answer at once, before the tab is drawn again.
    notice = st.empty()
    orders, source = live.orders(session)
    if source == "rest" and c2.button("Refresh", key="orders_refresh", icon=":material/refresh:"):
        invalidate("orders:")
        orders, source = live.orders(session)
    st.session_state[LIVE_SEEN] = None  # the fragment's first run in this script run records it
    every = live.LIVE_EVERY if source == "stream" else None
    st.fragment(run_every=every)(_live_orders_table)(session)
    open_orders = [o for o in orders if vm_trading.is_open(o) and o.order_id is not None]
    if open_orders:
        # In the live table's order (newest first, a group's legs after their parent), with the group.
        grouped = bracket_ticket.grouped_live_order_rows(open_orders)
        groups = {row["Order id"]: row["Group"] for row in grouped}
        by_id = {o.order_id: o for o in open_orders}
        names = _contract_names(session, ((o.conid, o.sec_type) for o in open_orders))
        oid = st.selectbox(
            "Open order",
            [row["Order id"] for row in grouped],
            format_func=lambda i: (
                f"{i} · {vm_trading.order_name(by_id[i], names)} · {by_id[i].order_desc or ''}"
                + (f" · {groups[i]}" if groups.get(i) else "")
            ),
            key="orders_pick",
        )
        if oid is not None:
            _order_actions(session, by_id[oid], notice)
    st.subheader("Recent fills", anchor=False)
    st.fragment(run_every=every)(_fills_table)(session)


def _live_signature(orders: list[Any]) -> tuple[Any, ...]:
    """What, when it changes, needs the whole tab drawn again: the open orders with what the picker
    and the cancel/modify panel show of them (description, price, size, whether cancel and modify
    apply), and the status of the order the banner names. A mere status step that changes none of
    that (PreSubmitted -> Submitted) redraws only the live table: redrawing the whole tab then
    could cost the trader a price being typed into the modify panel."""
    last = st.session_state.get(LAST_RESULT)
    banner_id = str(last.order_id) if last is not None else None
    rows = []
    for o in orders:
        if o.order_id is None:
            continue
        banner = str(o.order_id) == banner_id
        is_open = vm_trading.is_open(o)
        if not (is_open or banner):
            continue
        rows.append(
            (
                int(o.order_id),
                (o.status or "") if banner else "",
                is_open,
                vm_trading.is_cancellable(o),
                vm_trading.is_modifiable(o),
                o.order_desc or "",
                o.price,
                o.total_size,
            )
        )
    return tuple(sorted(rows, key=lambda row: row[0]))


def _live_orders_table(session: DashboardSession) -> None:
    orders, source = live.orders(session)
    names = _contract_names(session, ((o.conid, o.sec_type) for o in orders))
    # Drawn first: the trader sees the stream's news at once, before the tab is redrawn below.
    _cancel_notice(orders)
    # Each bracket / OCO group together (parent, then its attached orders), with a Group column.
    rows = bracket_ticket.grouped_live_order_rows(orders, names)
    if rows:
        table(rows, "orders_table")
    else:
        st.caption("No live orders.")
    if source == "stream":
        st.caption("Live from IBKR's order stream.")
    else:
        why = f" ({session.streaming_error})" if session.streaming_error else ""
        st.caption(f"REST snapshot: streaming is not available{why}. Press Refresh for news.")
    seen = st.session_state.get(LIVE_SEEN)
    signature = _live_signature(orders)
    if seen is None:
        st.session_state[LIVE_SEEN] = signature
    elif seen != signature:  # an order opened, closed or changed status: the picker and banner too
        st.session_state[LIVE_SEEN] = signature
        st.rerun()


def _cancel_notice(orders: list[Any]) -> None:
    """The cancel the trader asked for, as the stream reports it: PendingCancel, then Cancelled."""
    asked = st.session_state.get(CANCELLING)
    if not asked:
        return
    order = next((o for o in orders if o.order_id == asked["order_id"]), None)
    _draw_cancel_notice(st.container(), asked, order)


def _draw_cancel_notice(where: Any, asked: dict[str, Any], order: Any) -> None:
    status = (order.status if order is not None else None) or "cancel requested"
    text = f"Cancel of order {asked['order_id']} ({asked['name']}): {status}"
    if status == "Cancelled":
        where.success(text, icon=":material/cancel:")
    elif order is not None and not vm_trading.is_live(order):
        where.warning(f"{text} (it ended before the cancel took effect)")
    else:
        where.info(f"{text} · waiting for IBKR to confirm", icon=":material/hourglass_top:")


def _fills_table(session: DashboardSession) -> None:
    trades, _ = live.trades(session)
    fills = vm_trading.fill_rows(trades, _contract_names(session, ((t.conid, t.sec_type) for t in trades)))
    if fills:
        table(fills, "fills_table")
    else:
        st.caption("No fills in the last days.")


def _cancel(session: DashboardSession, order: Any, notice: Any) -> None:
    """Ask IBKR to cancel; the banner of that order goes, the notice follows the stream.

    The cancel request runs beside the page: the client's ``cancel_order`` also reads the order's
    status back for the order log (a few spaced reads while IBKR says PendingCancel), and the
    trader should not wait for those when the stream has already said Cancelled."""
    oid = order.order_id
    names = _contract_names(session, [(order.conid, order.sec_type)])
    asked = {"order_id": oid, "name": vm_trading.order_name(order, names)}
    sent = _CANCELS.submit(session.client.cancel_order, oid, sec_type=order.sec_type)
    sent.add_done_callback(partial(_cancel_finished, oid))

    def settled(latest: Any) -> bool:
        failed = sent.done() and sent.exception() is not None
        return failed or latest is None or not vm_trading.is_live(latest)

    with st.spinner(f"Cancelling order {oid}; waiting for IBKR to confirm…"):
        # The stream's Cancelled is drawn the moment it comes (into the notice slot above,
        # before the tab is drawn again); a slow one shows PendingCancel after the redraw, and
        # the live table follows the stream to Cancelled.
        latest = live.await_order(session, int(oid), settled, timeout=1.5)
        confirmed = latest is not None and not vm_trading.is_live(latest) and not sent.done()
        if latest is not None and not vm_trading.is_live(latest):
            _draw_cancel_notice(notice, asked, latest)
        # The stream saying the order ended is IBKR's answer: the client's read-back of the
        # status for the order log (paced, a second or more) finishes beside the next page run.
        # Otherwise IBKR's refusal is raised here, to the panel's error box.
        msg = "sent" if confirmed else (sent.result().msg or "sent")
    invalidate("orders:")
    last = st.session_state.get(LAST_RESULT)
    if last is not None and str(last.order_id) == str(oid):
        st.session_state.pop(LAST_RESULT, None)  # no green "Submitted" left over a cancelled order
    st.session_state[CANCELLING] = asked
    st.toast(f"Cancel requested: {msg}")
    st.rerun()


def _cancel_finished(oid: Any, done: Future[Any]) -> None:
    """A cancel whose answer the page did not wait for (the stream had confirmed it): a failure
    of its status read-back is logged (masked), not lost."""
    exc = done.exception()
    if exc is not None:
        log.warning("cancel of order %s: %s", oid, mask_text(explain(exc)))


def _order_actions(session: DashboardSession, order: Any, notice: Any) -> None:
    # Every input is keyed by the picked order's id: picking another order shows that order's own
    # quantity, price, type and TIF, never the values typed or shown for the order picked before.
    oid = order.order_id
    terms = vm_trading.modify_terms(order)
    st.caption(terms.caption)
    c1, c2, c3, c4 = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
    try:
        if c1.button(
            "Cancel order",
            key=f"orders_cancel_{oid}",
            icon=":material/cancel:",
            disabled=not vm_trading.is_cancellable(order),
        ):
            _cancel(session, order, notice)
        qty = c2.number_input(
            f"New quantity ({terms.unit})", min_value=0.0, value=terms.quantity, key=f"orders_qty_{oid}"
        )
        price = None
        if terms.order_type == "limit":
            price = c3.number_input(
                "New limit price", min_value=0.0, value=terms.price, format="%.6g", key=f"orders_price_{oid}"
            )
        if c4.button(
            "Modify order…",
            key=f"orders_modify_{oid}",
            icon=":material/edit:",
            disabled=not session.order_log.can_send or not vm_trading.is_modifiable(order),
        ):
            # The order's own contract, from IBKR's definition of its conid (strike, right, expiry,
            # multiplier): /contract/info alone has no strike or right, so options could not be modified.
            contract = session.client.order_contract(int(order.conid))
            modified = vm_trading.modify_order_dict(order, contract.symbol, qty, price)
            if modified is None:
                st.warning(f"The page modifies limit and market orders only, not {order.order_type!r}.")
                return
            _park_modify(session, oid, modified, contract)
            st.rerun()
    except IBKRError as exc:
        st.error(explain(exc), icon=":material/error:")
    _modify_confirmation(session, oid)


def _modify_confirmation(session: DashboardSession, oid: Any) -> None:
    parked = st.session_state.get(MODIFY_PENDING)
    if not parked or parked["order_id"] != oid:  # a modify parked for another order is not shown
        return
    with st.container(border=True):
        st.markdown(f"**Confirm modify of order {oid}:** {parked['summary']}")
        st.markdown("\n".join(f"- {line}" for line in parked["lines"]))
        _modify_whatif(parked.get("whatif"), parked.get("whatif_error"))
        c1, c2 = st.columns(2)
        if c1.button(
            "Confirm modify",
            key="orders_modify_confirm",
            type="primary",
            disabled=not session.order_log.can_send,
        ):
            st.session_state.pop(MODIFY_PENDING, None)  # first: a second click finds nothing to send
            try:
                with st.spinner(f"Modifying order {oid}…"):
                    result = session.client.modify_order(
                        oid, parked["order"], parked["contract"], hold_questions=True
                    )
            except IBKRError as exc:
                st.session_state[LAST_ERROR] = explain(exc)
            else:
                if result.question is not None:  # answered in the question box, for this modification
                    st.session_state[QUESTION] = question_box.park(parked, result, kind="modify")
                else:
                    st.toast(bracket_ticket.modified_text(result))  # a group's legs listed too
                    _await_modify(session, oid, parked["payload"])
            finally:
                invalidate("orders:")
            st.rerun()
        if c2.button("Discard", key="orders_modify_abort"):
            st.session_state.pop(MODIFY_PENDING, None)
            st.rerun()


def _park_modify(
    session: DashboardSession, oid: Any, modified: dict[str, Any], contract: IBKRContract
) -> None:
    """Like a new order: the exact payload (the client's translation: tick grid, account) and
    IBKR's what-if of the new terms are shown before "Confirm modify" sends anything."""
    payload = session.client.order_payload(modified, contract)
    summary, lines = vm_trading.confirm_ticket(modified, payload, contract)
    whatif, whatif_error = None, None
    try:
        with st.spinner(f"Asking IBKR for a what-if of the modified order {oid}…"):
            whatif = session.client.whatif(modified, contract)
    except IBKRError as exc:  # the preview failing does not hide the confirm box; it says why
        whatif_error = explain(exc)
    st.session_state[MODIFY_PENDING] = {
        "order_id": oid,
        "order": modified,
        "contract": contract,
        "payload": payload,
        "summary": summary,
        "lines": lines,
        "whatif": whatif,
        "whatif_error": whatif_error,
    }


def _modify_whatif(whatif: Any, error: str | None) -> None:
    """The what-if of the modified terms (IBKR previews them as an order of those terms)."""
    if error:
        st.warning(f"What-if not available: {error}")
    if whatif is not None:
        _whatif_panel(whatif, "orders_modify_whatif", empty_table=False)


def _await_modify(session: DashboardSession, oid: Any, payload: dict[str, Any]) -> None:
    """Until the stream shows the new quantity and price (at most 2 s), so the table drawn next does."""
    qty = payload.get("quantity")
    price = payload.get("price")

    def done(order: Any) -> bool:
        if order is None:
            return False
        same_qty = qty is None or order.total_size == float(qty)
        return same_qty and (price is None or order.price == float(price))

    with st.spinner(f"Waiting for IBKR's order stream to show the modified order {oid}…"):
        live.await_order(session, int(oid), done)


def _contract_names(session: DashboardSession, items: Iterable[tuple[Any, Any]]) -> dict[int, str]:
    """(conid, sec type) pairs -> options, futures and bonds named in full from IBKR's definition
    of the conid (``ES Dec 2026 (ESZ6)``; rows carry the conid but not every term); cached for the
    session, failures left out (the row's own text names it then)."""
    names: dict[int, str] = {}
    for conid, sec_type in set(items):
        if conid is None or sec_type not in vm_trading.NAMED_BY_CONTRACT:
            continue
        try:
            contract = cached(f"contract:{conid}", partial(session.client.order_contract, int(conid)), 3600.0)
        except IBKRError:
            continue
        names[int(conid)] = describe_contract(contract)
    return names


def _order_log(session: DashboardSession) -> None:
    order_log = session.order_log
    with st.expander("Order log (written before each order leaves)"):
        # The database log is kept current from the page's stream (started here if needed); the
        # in-memory one only holds what the order path recorded.
        if order_log.in_memory:
            st.info(
                "The order log is kept in memory only (database_url=memory): it ends with this session, "
                "and fills that arrive after an order was sent are not followed."
            )
        elif order_log.store is None:
            st.caption("No order log: no order is sent from this page.")
            return
        elif session.streaming() is None:
            st.caption(f"Not updated from the stream ({session.streaming_error}); refresh to see fills.")
        entries = order_log.entries(limit=50)
        if entries:
            names = _contract_names(session, ((e.conid, e.sec_type) for e in entries))
            table(vm_trading.order_log_rows(entries, names), "orders_log")
        else:
            st.caption("No orders logged yet.")


def _result_banner(session: DashboardSession, last: OrderResult) -> None:
    """The order just sent, with its status as the stream reports it now: green while it is
    working, a plain notice once it was cancelled or filled (never a stale "Submitted")."""
    text = f"Order {last.order_id} ({last.client_order_id}): {last.status}"
    current = None
    stream = live.stream_of(session) if last.order_id is not None else None
    if stream is not None and str(last.order_id).isdigit():
        current = stream.order(int(str(last.order_id)))
    status = (current.status if current is not None else None) or last.ibkr_status
    text += f"{' · ' + status if status else ''} [{last.mode}]"
    if current is not None and not vm_trading.is_open(current):
        st.info(text)
    else:
        st.success(text)


def _bracket_banner_owner(contract: IBKRContract) -> None:
    """The bracket's result (or error) banner belongs to the contract it was sent for, like a
    single order's: it is first drawn with that contract, and goes when the trader picks another."""
    shown = st.session_state.get(bracket_ticket.LAST_RESULT) or st.session_state.get(
        bracket_ticket.LAST_ERROR
    )
    if not shown:
        st.session_state.pop(BRACKET_OWNER, None)
        return
    owner = st.session_state.setdefault(BRACKET_OWNER, contract.conid)
    if owner != contract.conid:
        for key in (bracket_ticket.LAST_RESULT, bracket_ticket.LAST_ERROR, BRACKET_OWNER):
            st.session_state.pop(key, None)


def _bracket(session: DashboardSession, contract: IBKRContract) -> None:
    """The bracket ticket for the picked contract, below the single ticket; open while a bracket is
    parked for confirmation or its result / error is shown."""
    _bracket_banner_owner(contract)
    keys = (bracket_ticket.PENDING, bracket_ticket.LAST_RESULT, bracket_ticket.LAST_ERROR)
    busy = any(st.session_state.get(k) for k in keys)
    with st.expander("Bracket order (entry + take-profit + stop-loss)", expanded=busy):
        try:
            bracket_ticket.render(session, contract)
        except Exception as exc:
            st.error(explain(exc))


def render(session: DashboardSession) -> None:
    if session.order_log.error:
        st.error(f"Orders cannot be sent from this page: {session.order_log.error}", icon=":material/block:")
    st.subheader("Order entry", anchor=False)
    contract = contract_finder.render(session)
    asking = question_box.render(session, on_result=partial(_settled, session=session), on_error=_failed)
    _confirmation(session)
    failure = st.session_state.get(LAST_ERROR)
    if failure:
        st.error(failure, icon=":material/error:")
    last = st.session_state.get(LAST_RESULT)
    if last is not None and not failure:
        _result_banner(session, last)
    # While IBKR's question is open the box shows its own ticket; no fresh one (another order
    # request would invalidate the pending question at IBKR, REFERENCE §4.3).
    if contract is not None and not st.session_state.get(PENDING) and not asking:
        try:
            _ticket(session, contract)
        except Exception as exc:
            st.error(explain(exc))
    if contract is not None and not asking:
        _bracket(session, contract)
    st.divider()
    _live_orders(session)
    _order_log(session)
