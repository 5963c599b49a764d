"""The bracket ticket of the Trading tab: entry, take-profit and stop-loss, the resulting risk/reward,
and the exact legs in the confirm box.

The pure part (:func:`bracket_order`, :func:`risk_reward`, :func:`confirm_legs`) is the view-model; the
Streamlit part (:func:`render`) follows the single ticket's rules (``tab_trading``): "Review bracket…"
translates the whole group with the client's own translation (``client.order_group``: the account, the
contract's rules, the tick grid) and parks it under a fresh cOID; only "Confirm and send
bracket" sends it, popping the parked group first so a double click cannot send it twice. It sends with
``hold_questions=True``: IBKR's question about the group (one request, so one question for every leg)
that the policy (``auto_confirm``) does not answer yes is held, every leg's row ``awaiting_answer``, and
the Trading tab's question box (:mod:`.question_box`, kind ``group``) shows it with this ticket; its Yes
continues the group (``answer_question(parent cOID, True)``), its No declines every leg.

Wiring: ``tab_trading.render`` shows :func:`render` for the chosen contract below the single ticket (in
the expander "Bracket order (entry + take-profit + stop-loss)"); it uses its own ``bracket_*`` widget and
session keys. The live-orders table draws :func:`grouped_live_order_rows` (``vm_trading.live_order_rows``'
columns plus ``Group``), so a group's legs are shown together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import define

from ..masking import mask_account
from ..models import IBKRContract, LegResult, Order, OrderResult
from ..orders.groups import OrderGroup
from ..wire import convert
from . import question_box
from .vm_trading import format_price, quantity_unit

#: Wire names from the wire layer (convert): the client order id and order type keys.
_COID = convert.WIRE_CLIENT_ORDER_ID
_TYPE = convert.CPAPI_ORDER_WIRE_NAMES["order_type"]

PENDING = "bracket_pending"
LAST_RESULT = question_box.GROUP_RESULT  # the question box sets it too, after a held group's yes
LAST_ERROR = "bracket_last_error"
ENTRY_TYPES: tuple[str, ...] = ("limit", "stop", "market")
ROLE_LABELS = {"entry": "Entry", "take_profit": "Take-profit", "stop_loss": "Stop-loss", "then": "Then"}
_WIRE_TYPES = {"LMT": "LIMIT", "MKT": "MARKET", "STP": "STOP", "STOP_LIMIT": "STOP LIMIT",
               "TRAIL": "TRAILING STOP", "TRAILLMT": "TRAILING STOP LIMIT"}  # fmt: skip


def bracket_order(
    *,
    side: str,
    quantity: float,
    entry_type: str,
    entry_price: float | None,
    take_profit: float | None,
    stop_loss: float | None,
    stop_limit: float | None = None,
    time_in_force: str = "day",
    client_order_id: str,
) -> dict[str, Any]:
    """The host group dict for the ticket's fields (validated later by the translator, which names
    the leg and field of any fault)."""
    order: dict[str, Any] = {
        "side": side,
        "qty": int(quantity) if float(quantity).is_integer() else quantity,
        "order_type": entry_type,
        "time_in_force": time_in_force,
        "client_order_id": client_order_id,
    }
    if entry_type == "limit":
        order["limit_price"] = entry_price
    elif entry_type == "stop":
        order["stop_price"] = entry_price
    if take_profit is not None:
        order["take_profit"] = {"limit_price": take_profit}
    if stop_loss is not None:
        order["stop_loss"] = {"stop_price": stop_loss}
        if stop_limit is not None:
            order["stop_loss"]["limit_price"] = stop_limit
    return order


@define(frozen=True, kw_only=True)
class RiskReward:
    """Per unit and for the whole position, in the contract's currency (``multiplier`` applied)."""

    risk_per_unit: float | None
    reward_per_unit: float | None
    risk: float | None
    reward: float | None
    ratio: float | None  # reward / risk

    def text(self, currency: str | None) -> str:
        unit = f" {currency}" if currency else ""
        risk = "—" if self.risk is None else f"{format_price(self.risk)}{unit}"
        reward = "—" if self.reward is None else f"{format_price(self.reward)}{unit}"
        ratio = "—" if self.ratio is None else f"1 : {self.ratio:.2f}"
        return f"risk {risk} · reward {reward} · risk/reward {ratio}"


def _wire_prices(payload: Mapping[str, Any]) -> tuple[float | None, float | None]:
    kind = payload.get(_TYPE)
    price, aux = payload.get("price"), payload.get("auxPrice")
    if kind == "LMT":
        return price, None
    if kind in ("STP", "TRAIL"):
        return None, price
    if kind in ("STOP_LIMIT", "TRAILLMT"):
        return price, aux
    return None, None


def risk_reward(group: OrderGroup, multiplier: float | None = None) -> RiskReward:
    """The bracket's risk (entry to stop) and reward (entry to take-profit) on the wire prices (after
    tick rounding). A market entry has no price: per unit figures are then unknown (``None``)."""
    legs = {leg.role: leg.payload for leg in group.legs}
    entry = legs.get("entry", {})
    limit, stop = _wire_prices(entry)
    reference = limit if limit is not None else stop
    quantity = float(entry.get("quantity") or 0.0)
    scale = quantity * float(multiplier or 1.0)
    tp = _wire_prices(legs["take_profit"])[0] if "take_profit" in legs else None
    sl = _wire_prices(legs["stop_loss"])[1] if "stop_loss" in legs else None
    risk_unit = None if reference is None or sl is None else abs(reference - float(sl))
    reward_unit = None if reference is None or tp is None else abs(float(tp) - reference)
    ratio = None if not risk_unit or reward_unit is None else reward_unit / risk_unit
    return RiskReward(
        risk_per_unit=risk_unit,
        reward_per_unit=reward_unit,
        risk=None if risk_unit is None else risk_unit * scale,
        reward=None if reward_unit is None else reward_unit * scale,
        ratio=ratio,
    )


def confirm_legs(group: OrderGroup, contract: IBKRContract) -> tuple[str, list[str]]:
    """The confirm box for a group, from the payloads the client sends: a headline and one line per leg
    (role, side, quantity, type, prices, TIF, its cOID or the parent it is attached to)."""
    from ..naming import describe_contract

    name = describe_contract(contract)
    lines: list[str] = []
    for leg in group.legs:
        p = leg.payload
        quantity = float(p.get("quantity") or 0.0)
        unit = quantity_unit(contract.sec_type, quantity)
        limit, stop = _wire_prices(p)
        prices = []
        if limit is not None:
            prices.append(f"limit {format_price(float(limit))}")
        if stop is not None:
            prices.append(f"stop {format_price(float(stop))}")
        if p.get("trailingAmt") is not None:
            prices.append(f"trail {p['trailingAmt']}{'%' if p.get('trailingType') == '%' else ''}")
        link = f"attached to {leg.parent_id}" if leg.parent_id else f"cOID {p.get(_COID)}"
        lines.append(
            f"{ROLE_LABELS.get(leg.role, leg.role)}: {p.get('side')} {quantity:g} {unit} "
            f"{_WIRE_TYPES.get(str(p.get(_TYPE)), p.get(_TYPE))} "
            f"{' '.join(prices) or 'at market'} {p.get('tif')} ({link}; log id {leg.client_order_id})"
        )
    entry = group.legs[0].payload
    lines.append(f"Contract: {name} ({contract.sec_type}, conid {contract.conid})")
    lines.append(f"Account: {mask_account(entry.get('acctId')) or '—'}")
    lines.append(f"Risk/reward: {risk_reward(group, contract.multiplier).text(contract.currency)}")
    head = (
        f"Bracket: {entry.get('side')} {float(entry.get('quantity') or 0):g} {name}, {len(group.legs)} orders"
    )
    return head, lines


def leg_rows(result: OrderResult) -> list[dict[str, Any]]:
    """The legs of a placed group as table rows."""
    return [_leg_row(leg) for leg in result.legs]


def _leg_row(leg: LegResult) -> dict[str, Any]:
    return {
        "Leg": ROLE_LABELS.get(leg.role, leg.role),
        "Order id": leg.order_id or "—",
        "Status": leg.status,
        "IBKR status": leg.ibkr_status or "—",
        "Log id": leg.client_order_id,
    }


def modified_text(result: OrderResult) -> str:
    """The page's note after a modification: IBKR's word for it and, for a leg of a group whose
    quantity changed, every leg modified with it (an entry's exits follow its new quantity)."""
    text = f"Modify sent: {result.ibkr_status or result.status}"
    if result.group_id and len(result.legs) > 1:
        legs = ", ".join(f"{leg.client_order_id} {leg.ibkr_status or leg.status}" for leg in result.legs)
        text += f" · group {result.group_id} kept consistent: {legs}"
    return text


def grouped_live_order_rows(
    orders: Iterable[Order], names: Mapping[int, str] | None = None
) -> list[dict[str, Any]]:
    """``vm_trading.live_order_rows`` with each group shown together: a parent (newest first), then
    its attached orders, each row with a ``Group`` column after the order id (``bracket <parent id>``
    on the parent and its children, ``OCO <first cOID's group>`` for orders whose cOIDs share a group
    prefix ``<id>.oN``);
    ``names``: conid -> the contract in full, as for ``live_order_rows``."""
    from .vm_trading import live_order_rows

    def rows_of(some: list[Order]) -> list[dict[str, Any]]:
        return live_order_rows(some, names)

    items = list(orders)
    children: dict[int, list[Order]] = {}
    for o in items:
        if o.parent_id is not None:
            children.setdefault(o.parent_id, []).append(o)
    ordered: list[Order] = []
    labels: list[str] = []
    known = {o.order_id for o in items}
    for o in sorted(items, key=lambda x: x.order_id or 0, reverse=True):
        if o.parent_id is not None and o.parent_id in known:
            continue  # shown under its parent
        kids = sorted(children.get(o.order_id or -1, []), key=lambda x: x.order_id or 0)
        label = f"bracket {o.order_id}" if kids else _oco_label(o)
        ordered.append(o)
        labels.append(label)
        for kid in kids:
            ordered.append(kid)
            labels.append(label)
    rows: list[dict[str, Any]] = []
    for row, label in zip(_unsorted_rows(ordered, rows_of), labels, strict=True):
        # Group next to the order id: the first thing a trader reads on a row.
        order_id = row.pop("Order id")
        rows.append({"Order id": order_id, "Group": label, **row})
    return rows


def _oco_label(order: Order) -> str:
    ref = order.client_order_id or ""
    head, dot, tail = ref.rpartition(".")
    return f"OCO {head}" if dot and tail[:1] == "o" and tail[1:].isdigit() else ""


def _unsorted_rows(ordered: list[Order], rows_of: Any) -> list[dict[str, Any]]:
    """``rows_of`` (which sorts newest first) applied one order at a time, keeping ``ordered``."""
    return [rows_of([o])[0] for o in ordered]


# ------------------------------------------------------------------------------------------- Streamlit


def _inputs() -> dict[str, Any]:
    import streamlit as st

    c1, c2, c3, c4 = st.columns(4)
    side = c1.radio("Side", ("buy", "sell"), format_func=str.upper, key="bracket_side", horizontal=True)
    qty = c2.number_input("Quantity", min_value=0.0, value=1.0, step=1.0, key="bracket_qty")
    entry_type = c3.selectbox("Entry type", ENTRY_TYPES, key="bracket_type")
    tif = c4.selectbox("Time in force", ("day", "gtc"), format_func=str.upper, key="bracket_tif")
    p1, p2, p3 = st.columns(3)
    entry = None
    if entry_type != "market":
        entry = p1.number_input("Entry price", min_value=0.0, value=None, format="%.4f", key="bracket_entry")
    tp = p2.number_input("Take-profit (limit)", min_value=0.0, value=None, format="%.4f", key="bracket_tp")
    sl = p3.number_input("Stop-loss (stop)", min_value=0.0, value=None, format="%.4f", key="bracket_sl")
    return {"side": side or "buy", "quantity": float(qty or 0.0), "entry_type": entry_type or "limit",
            "entry_price": entry, "take_profit": tp, "stop_loss": sl,
            "time_in_force": tif or "day"}  # fmt: skip


def _await_legs(session: Any, result: OrderResult) -> None:
    """Until IBKR's order stream lists every placed leg (at most 2 s each), so the live-orders table
    drawn next shows the group together. Without a stream: returns at once."""
    import streamlit as st

    from . import live

    ids = [int(str(leg.order_id)) for leg in result.legs if str(leg.order_id or "").isdigit()]
    if not ids:
        return
    what = f"the {len(ids)} orders of bracket {result.group_id}"
    with st.spinner(f"Waiting for {what} on IBKR's order stream…"):
        for oid in ids:
            live.await_order(session, oid, lambda o: o is not None)


def render(session: Any, contract: IBKRContract) -> None:
    """The bracket ticket for ``contract`` (a ``DashboardSession``: ``client``, ``order_log``, ``mode``)."""
    import streamlit as st

    from ..errors import IBKRError
    from ..orders import new_client_order_id
    from .errors_text import explain
    from .page_cache import invalidate
    from .tables import table

    inputs = _inputs()
    if st.button("Review bracket…", key="bracket_review", disabled=not session.order_log.can_send):
        order = bracket_order(client_order_id=new_client_order_id(), **inputs)
        try:
            group = session.client.order_group(order, contract)  # every leg checked; nothing sent
        except (IBKRError, ValueError) as exc:
            st.session_state[LAST_ERROR] = explain(exc)
        else:
            head, lines = confirm_legs(group, contract)
            st.session_state[PENDING] = {
                "order": order,
                "contract": contract,
                "summary": head,
                "lines": lines,
            }
            st.session_state.pop(LAST_ERROR, None)
        st.rerun()
    parked = st.session_state.get(PENDING)
    if parked:
        with st.container(border=True):
            st.markdown(f"**Confirm {parked['summary']}**")
            st.markdown("\n".join(f"- {line}" for line in parked["lines"]))
            st.caption(f"group id {parked['order']['client_order_id']} · {session.mode} mode · one request")
            c1, c2 = st.columns(2)
            if c1.button("Confirm and send bracket", key="bracket_confirm", type="primary",
                         disabled=not session.order_log.can_send):  # fmt: skip
                st.session_state.pop(PENDING, None)  # first: a second click finds nothing to send
                try:
                    with st.spinner("Sending…"):
                        result = session.client.place_order(
                            parked["order"], parked["contract"], hold_questions=True
                        )
                    st.session_state.pop(LAST_ERROR, None)
                    if result.question is not None:
                        # IBKR asks about the group: held for the trader (nothing at IBKR yet, every
                        # leg ``awaiting_answer``); the Trading tab's question box answers it.
                        st.session_state[question_box.QUESTION] = question_box.park(
                            parked, result, kind="group"
                        )
                    else:
                        st.session_state[LAST_RESULT] = result
                        _await_legs(session, result)
                except (IBKRError, ValueError) as exc:
                    st.session_state[LAST_ERROR] = explain(exc)
                finally:
                    invalidate("orders:")  # a REST live-orders list is read again
                st.rerun()
            if c2.button("Discard", key="bracket_abort"):
                st.session_state.pop(PENDING, None)
                st.rerun()
    error = st.session_state.get(LAST_ERROR)
    if error:
        st.error(error)
    result = st.session_state.get(LAST_RESULT)
    if isinstance(result, OrderResult) and result.legs:
        st.success(f"Bracket {result.group_id} placed: {result.status}")
        table(leg_rows(result), "bracket_legs_table")
