"""Order tickets: what one order is, the checks of its prices and the order questions it raises.

Reading a ticket from the gateway's JSON is the API layer's (``sim.api.ticket_reader``); the engine
is given that reader (``TicketReader``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import TicketError
from .paper_market import Market, fmt_price
from .universe import Instrument, Universe

#: The o163 "percentage constraint": limit prices further than this from the last price ask first.
PRICE_CONSTRAINT = 0.03
#: Marketable limit prices further than this from the last price are rejected outright.
PRICE_REJECT = 0.5

#: Question texts, IBKR's words where known (clients match them by text, e.g. ibind's QuestionType
#: substrings): o163 is IBKR's documented example (examples/order_reply_question.json, the " \n"
#: included); o354 and o403 as ibind 0.2.2 records them (ibkr_utils.py, from users' gateways; o354's
#: "Are you sure" follows a newline here, as in every other IBKR question). o10151's exact wording is
#: not published (IBKR's docs and ibind only describe it: "warns about risks with market orders"):
#: the text below is the simulator's own, built on IBKR's phrasing of the stop-order question
#: o10331 ("You are about to submit a stop order. ...").
QUESTION_TEXT = {
    "o163": 'The following order "{desc}" price exceeds \nthe Percentage constraint of 3%.\n'
    "Are you sure you want to submit this order?",
    "o354": "You are submitting an order without market data. We strongly recommend against this as it may "
    "result in erroneous and unexpected trades.\nAre you sure you want to submit this order?",
    "o10151": "You are about to submit a market order. Market orders can execute at prices far from the "
    "last quoted price.\nAre you sure you want to submit this order?",
    "o403": "This order will most likely trigger and fill immediately.\n"
    "Are you sure you want to submit this order?",
}


@dataclass
class Ticket:
    """One validated order of a place/modify/whatif request."""

    account: str
    inst: Instrument
    routing: str
    side: str
    order_type: str
    quantity: float
    price: float | None
    aux_price: float | None
    tif: str
    outside_rth: bool
    coid: str | None
    parent_coid: str | None
    single_group: bool
    trailing_amt: float | None
    trailing_type: str | None
    raw: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``BUY 100 AAPL NASDAQ.NMS @ 165.0`` as in the o163 question text."""
        at = f" @ {self.price}" if self.price is not None else ""
        return f"{self.side} {self.quantity:g} {self.inst.symbol} {self.inst.listing_exchange}{at}"


#: Reads one order of a request (JSON) against the universe, the request's account and the session's
#: accounts; raises ``TicketError`` naming what is wrong.
TicketReader = Callable[[Universe, Any, str, tuple[str, ...]], Ticket]


def check_on_grid(inst: Instrument, price: float | None, field: str) -> None:
    """A price off the contract's minimum price variation is refused, as a real gateway does
    (the book keeps the price as sent; nothing is rounded here). The grid is the one the
    contract rules answer (``incrementRules``: one band of ``inst.tick``)."""
    if price is None:
        return
    steps = price / inst.tick
    if price <= 0 or abs(steps - round(steps)) > 1e-6:
        raise TicketError(
            f"The {field} {price!r} does not conform to the minimum price variation "
            f"({inst.tick:g}) for this contract."
        )


def check_price_reject(ticket: Ticket, market: Market) -> None:
    """Marketable limits very far through the market are refused (examples/order_reject.json)."""
    if ticket.price is None or ticket.order_type not in {"LMT", "STOP_LIMIT", "MIDPRICE"}:
        return
    last = market.last(ticket.inst.conid)
    too_far = (ticket.side == "BUY" and ticket.price > last * (1 + PRICE_REJECT)) or (
        ticket.side == "SELL" and ticket.price < last * (1 - PRICE_REJECT)
    )
    if too_far:
        raise TicketError(
            "We cannot accept an order at the limit price you selected. Please submit your order using a "
            f"limit price that is closer to the current market price of {fmt_price(ticket.inst, last)}.  "
            "Alternatively, you can convert your order to an Algorithmic Order (IBALGO)."
        )


def questions_for(ticket: Ticket, market: Market, has_market_data: bool) -> list[tuple[str, str]]:
    """The questions this ticket raises, in the order the gateway asks them: (message id, text)."""
    out: list[tuple[str, str]] = []
    last = market.last(ticket.inst.conid)
    limit_kinds = {"LMT", "STOP_LIMIT", "MIDPRICE", "TRAILLMT"}
    far = ticket.price is not None and bool(last) and abs(ticket.price - last) / last > PRICE_CONSTRAINT
    if ticket.order_type in limit_kinds and far:
        out.append(("o163", QUESTION_TEXT["o163"].format(desc=ticket.describe())))
    if ticket.order_type == "MKT":
        if not has_market_data:
            out.append(("o354", QUESTION_TEXT["o354"]))
        out.append(("o10151", QUESTION_TEXT["o10151"]))
    if ticket.order_type in {"STP", "STOP_LIMIT"}:
        stop = ticket.price if ticket.order_type == "STP" else ticket.aux_price
        if stop is not None and (
            (ticket.side == "BUY" and last >= stop) or (ticket.side == "SELL" and last <= stop)
        ):
            out.append(("o403", QUESTION_TEXT["o403"]))
    return out
