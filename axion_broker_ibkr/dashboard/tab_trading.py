"""Trading tab: contract search, order ticket, what-if preview, explicit confirmation, live orders
with cancel/modify, recent fills.

Nothing here sends an order on a single click: "Review order" validates the ticket locally and
parks it (with a fresh cOID) under ``trade_pending``; only "Confirm and send" sends it, and it
pops the parked order first, so a double click cannot send it twice. A question IBKR asks is held
for the trader (``hold_questions``) and shown with the ticket it belongs to in the question box
(:mod:`.question_box`); its "Yes" answers IBKR for that same order (same cOID, one log row).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ..errors import IBKRError, QuestionRefusedError
from ..models import IBKRContract, OrderResult
from ..orders import new_client_order_id, translate_order
from . import contract_finder, question_box, vm_trading
from .errors_text import explain
from .factory import DashboardSession
from .state import cached, invalidate
from .tables import table

PENDING = "trade_pending"
QUESTION = question_box.QUESTION
LAST_RESULT = "trade_last_result"
LAST_ERROR = "trade_last_error"
MODIFY_PENDING = "orders_modify_pending"
ORDERS_TTL = 6.0
#: IBKR allows one live-orders / trades request per 5 s; the page keeps a margin over it.
ORDERS_SPACING = 5.5


def _ticket_inputs(contract: IBKRContract) -> dict[str, Any]:
    c1, c2, c3, c4 = st.columns(4)
    side = c1.radio("Side", vm_trading.SIDES, format_func=str.upper, key="trade_side", horizontal=True)
    qty = c2.number_input("Quantity", min_value=0.0, value=1.0, step=1.0, key="trade_qty")
    order_type = c3.selectbox("Order type", list(vm_trading.ORDER_TYPES), key="trade_type")
    tif = c4.selectbox("Time in force", vm_trading.TIFS, format_func=str.upper, key="trade_tif")
    needs_limit, needs_stop = vm_trading.ORDER_TYPES[order_type or "limit"]
    limit = stop = None
    if needs_limit:
        limit = st.number_input("Limit price", min_value=0.0, value=None, format="%.4f", key="trade_limit")
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
    whatif = session.client.whatif(order, contract)
    if whatif.error:
        st.error(f"IBKR: {whatif.error}")
    head = vm_trading.whatif_headline(whatif)
    c1, c2, c3 = st.columns(3)
    c1.metric("Amount", head["amount"] or "—")
    c2.metric("Commission", head["commission"] or "—")
    c3.metric("Total", head["total"] or "—")
    table(vm_trading.whatif_rows(whatif), "trade_whatif_table")
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
    _settled(result)


def _settled(result: OrderResult) -> None:
    invalidate("orders:")
    st.session_state[LAST_RESULT] = result
    st.session_state.pop(LAST_ERROR, None)


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
            with st.spinner("Sending…"):
                _send(session, parked)
            st.rerun()
        if c2.button("Discard", key="trade_abort"):
            st.session_state.pop(PENDING, None)
            st.rerun()


def _ticket(session: DashboardSession, contract: IBKRContract) -> None:
    st.markdown(f"**Contract:** {vm_trading.contract_label(contract)}")
    inputs = _ticket_inputs(contract)
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
    client = session.client
    c1, c2 = st.columns([4, 1])
    c1.subheader("Live orders", anchor=False)
    if c2.button("Refresh", key="orders_refresh", icon=":material/refresh:"):
        invalidate("orders:")
    orders = cached("orders:live", client.live_orders, ORDERS_TTL, ORDERS_SPACING)
    rows = vm_trading.live_order_rows(orders)
    if rows:
        table(rows, "orders_table")
    else:
        st.caption("No live orders.")
    open_orders = [o for o in orders if vm_trading.is_open(o) and o.order_id is not None]
    if open_orders:
        by_id = {o.order_id: o for o in open_orders}
        oid = st.selectbox(
            "Open order",
            list(by_id),
            format_func=lambda i: f"{i} · {by_id[i].ticker or ''} {by_id[i].order_desc or ''}",
            key="orders_pick",
        )
        if oid is not None:
            _order_actions(session, by_id[oid])
    st.subheader("Recent fills", anchor=False)
    fills = vm_trading.fill_rows(cached("orders:trades", client.trades, ORDERS_TTL, ORDERS_SPACING))
    if fills:
        table(fills, "fills_table")
    else:
        st.caption("No fills in the last days.")


def _order_actions(session: DashboardSession, order: Any) -> None:
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
            ack = session.client.cancel_order(order.order_id, sec_type=order.sec_type)
            invalidate("orders:")
            st.toast(f"Cancel requested: {ack.msg or 'sent'}")
            st.rerun()
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
            # Like a new order: the exact payload (the client's translation) is confirmed first.
            payload = session.client.order_payload(modified, contract)
            summary, lines = vm_trading.confirm_ticket(modified, payload, contract)
            st.session_state[MODIFY_PENDING] = {
                "order_id": oid,
                "order": modified,
                "contract": contract,
                "summary": summary,
                "lines": lines,
            }
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
                    st.toast(f"Modify sent: {result.ibkr_status or result.status}")
            finally:
                invalidate("orders:")
            st.rerun()
        if c2.button("Discard", key="orders_modify_abort"):
            st.session_state.pop(MODIFY_PENDING, None)
            st.rerun()


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
            table(vm_trading.order_log_rows(entries), "orders_log")
        else:
            st.caption("No orders logged yet.")


def render(session: DashboardSession) -> None:
    if session.order_log.error:
        st.error(f"Orders cannot be sent from this page: {session.order_log.error}", icon=":material/block:")
    st.subheader("Order entry", anchor=False)
    contract = contract_finder.render(session)
    asking = question_box.render(session, on_result=_settled, on_error=_failed)
    _confirmation(session)
    failure = st.session_state.get(LAST_ERROR)
    if failure:
        st.error(failure, icon=":material/error:")
    last = st.session_state.get(LAST_RESULT)
    if last is not None and not failure:
        st.success(
            f"Order {last.order_id} ({last.client_order_id}): {last.status}"
            f"{' · ' + last.ibkr_status if last.ibkr_status else ''} [{last.mode}]"
        )
    # While IBKR's question is open the box shows its own ticket; no fresh one (another order
    # request would invalidate the pending question at IBKR, REFERENCE §4.3).
    if contract is not None and not st.session_state.get(PENDING) and not asking:
        try:
            _ticket(session, contract)
        except Exception as exc:
            st.error(explain(exc))
    st.divider()
    _live_orders(session)
    _order_log(session)
