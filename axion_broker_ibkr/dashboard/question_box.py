"""The Trading tab's question box: IBKR's question about the order the trader just sent, shown
with that order's own ticket, answered for that order.

The page sends with ``hold_questions=True``: a question the trader has not confirmed is held
(nothing is at IBKR yet, the order-log row is ``awaiting_answer``). The box shows the parked ticket
it belongs to (the confirmed terms, the contract named in full), IBKR's text and ids, and the time
left in IBKR's reply window. Yes calls ``client.answer_question(cOID, True)``: the same order, the
same cOID, one row; after the window the client places the same ticket again under a new cOID
whose row links the first. No calls ``answer_question(cOID, False)``: the row is ``declined``.

The view-model (:func:`park`, :func:`view`, :func:`outcome`) has no Streamlit in it; :func:`render`
is the Streamlit part.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from attrs import define

from ..models import IBKRContract, OrderResult
from ..naming import describe_contract
from ..orders.status import status_label

#: Session-state key of the open question (a dict made by :func:`park`).
QUESTION = "trade_question"
#: Session-state key of the last answer's note (what became of the order), shown once.
ANSWERED = "trade_question_answered"
#: Session-state key of the last placed group's result (the bracket ticket shows its legs).
GROUP_RESULT = "bracket_last_result"


def park(parked: Mapping[str, Any], result: OrderResult, *, kind: str = "order") -> dict[str, Any]:
    """What the page keeps while IBKR's question about ``parked`` (the ticket as confirmed: order,
    contract, summary, lines) is open: the ticket itself, and the held question of ``result``.
    ``kind``: ``order``, ``modify`` (a modification's question; the key is then the order's cOID,
    or its order id when the order log does not know it) or ``group`` (a bracket's question: IBKR
    asks about the whole request; the key is the parent's cOID, which ``answer_question`` takes)."""
    question = result.question
    if question is None:
        raise ValueError("result: no question is held for this order")
    key = result.client_order_id or str(result.order_id or "")
    return {
        **dict(parked),
        "kind": kind,
        "client_order_id": key,
        "reply_id": question.reply_id,
        "ids": tuple(question.message_ids),
        "messages": tuple(question.messages),
        "expires_at": question.expires_at,
        "legs": tuple(leg.client_order_id for leg in result.legs),
    }


@define(frozen=True, kw_only=True)
class QuestionView:
    """What the box shows."""

    client_order_id: str
    headline: str  #: ``IBKR asks (o163) about BUY 1 share AAPL …: <IBKR's text>``
    contract: str  #: the ticket's contract in full (``naming.describe_contract``)
    lines: tuple[str, ...]  #: the ticket's terms, as confirmed
    caption: str
    expired: bool
    seconds_left: float
    yes_label: str


def _contract_text(contract: Any) -> str:
    if isinstance(contract, IBKRContract | Mapping):
        return describe_contract(contract)
    return ""


def view(q: Mapping[str, Any], now: float | None = None) -> QuestionView:
    """The box for an open question ``q`` (from :func:`park`) at ``now`` (epoch seconds)."""
    at = time.time() if now is None else now
    left = max(0.0, float(q.get("expires_at") or 0.0) - at)
    expired = left <= 0.0
    ids = ", ".join(q.get("ids") or ()) or "question"
    text = " ".join(" ".join(str(m) for m in q.get("messages") or ()).split()) or "(no text)"
    contract = _contract_text(q.get("contract"))
    kind = q.get("kind")
    what = {"modify": "the modification of", "group": "this group:"}.get(str(kind), "this order:")
    summary = str(q.get("summary") or "")
    coid = str(q.get("client_order_id") or "")
    legs = tuple(q.get("legs") or ())
    if kind == "group" and expired:
        caption = (
            f"IBKR's reply window is over. Yes places the same {len(legs)} orders again under new client "
            f"order ids (their log rows link {', '.join(legs) or coid}); No drops the group."
        )
        yes_label = "Yes, place the group again"
    elif kind == "group":
        caption = (
            f"Nothing is at IBKR yet. Yes sends the {len(legs)} orders of group {coid} (one request, one "
            f"order-log row each: {', '.join(legs)}); No declines every one. {left:.0f} s left to answer "
            "for the same group."
        )
        yes_label = "Yes, send the group"
    elif expired:
        caption = (
            f"IBKR's reply window is over. Yes places the same ticket again under a new client order id "
            f"(its log row links {coid}); No drops it."
        )
        yes_label = "Yes, place it again"
    else:
        caption = (
            f"Nothing is at IBKR yet. Yes sends this order (client order id {coid}, one order-log row); "
            f"No declines it. {left:.0f} s left to answer for the same order."
        )
        yes_label = "Yes, send it"
    return QuestionView(
        client_order_id=coid,
        headline=f"IBKR asks ({ids}) about {what} {summary} — {contract}: {text}",
        contract=contract,
        lines=tuple(str(line) for line in q.get("lines") or ()),
        caption=caption,
        expired=expired,
        seconds_left=left,
        yes_label=yes_label,
    )


def outcome(q: Mapping[str, Any], result: OrderResult, yes: bool) -> tuple[str, str]:
    """What the page says after an answer: ``(level, text)``, level ``success`` | ``info`` |
    ``question`` (IBKR asked again: the box stays, with the new question)."""
    first = str(q.get("client_order_id") or "")
    if result.question is not None:
        return "question", f"IBKR asks another question about order {result.client_order_id}."
    if q.get("kind") == "group":
        if not yes:
            return "info", (
                f"Declined: group {first} was not placed (every leg's order-log row: "
                f"{status_label('declined')})."
            )
        status = status_label(result.ibkr_status) or status_label(result.status)
        legs = ", ".join(f"{leg.client_order_id} #{leg.order_id}" for leg in result.legs)
        again = (
            f" — placed again as {result.group_id} (the question had expired; linked to {first})"
            if result.group_id and result.group_id != first
            else ""
        )
        return "success", f"Group {result.group_id}: {status} ({legs}){again}"
    if not yes:
        return "info", f"Declined: order {first} was not placed (order log: {status_label('declined')})."
    status = status_label(result.ibkr_status) or status_label(result.status)
    again = (
        f" — placed again as {result.client_order_id} (the question had expired; linked to {first})"
        if result.client_order_id and result.client_order_id != first and q.get("kind") != "modify"
        else ""
    )
    return "success", f"Order {result.order_id} ({result.client_order_id}): {status}{again}"


def render(
    session: Any,
    *,
    on_result: Callable[[OrderResult], None],
    on_error: Callable[[Exception], None],
) -> bool:
    """Show the open question, if any; returns whether one is open (the page then shows no fresh
    ticket: another order request would invalidate IBKR's pending question)."""
    import streamlit as st

    note = st.session_state.pop(ANSWERED, None)
    if note:
        st.info(note)
    q = st.session_state.get(QUESTION)
    if not q:
        return False
    box = view(q)
    with st.container(border=True):
        st.warning(box.headline)
        if box.lines:
            st.markdown("\n".join(f"- {line}" for line in box.lines))
        st.caption(box.caption)
        c1, c2 = st.columns(2)
        yes = c1.button(
            box.yes_label,
            key="trade_question_yes",
            type="primary",
            disabled=not session.order_log.can_send,
        )
        no = c2.button("No, drop it", key="trade_question_no")
    if yes or no:
        st.session_state.pop(QUESTION, None)  # first: a second click finds nothing to answer
        try:
            with st.spinner("Answering IBKR…"):
                result = session.client.answer_question(q["client_order_id"], bool(yes))
        except Exception as exc:
            on_error(exc)
        else:
            level, text = outcome(q, result, bool(yes))
            if level == "question":
                st.session_state[QUESTION] = park(q, result, kind=str(q.get("kind") or "order"))
            elif level == "info":
                st.session_state[ANSWERED] = text
            else:
                if q.get("kind") == "group":
                    st.session_state[GROUP_RESULT] = result  # the bracket ticket lists its legs
                    st.session_state[ANSWERED] = text
                on_result(result)
        st.rerun()
    return True
