"""Order tickets as the gateway receives them: parsing, validation and the order questions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import TicketError
from .paper_market import Market, fmt_price
from .universe import Instrument, Universe

ORDER_TYPES = {"LMT", "MKT", "STP", "STOP_LIMIT", "MIDPRICE", "TRAIL", "TRAILLMT"}
TIFS = {"DAY", "GTC", "IOC", "OPG", "GTD", "OVT", "OND", "PAX", "CLOSE"}
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


def _number(raw: dict[str, Any], key: str, required: bool = False) -> float | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise TicketError(f"Bad Request: order field '{key}' is required", 400)
        return None
    if isinstance(value, bool):
        raise TicketError(f"Bad Request: order field '{key}' must be a number, got {value!r}", 400)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TicketError(f"Bad Request: order field '{key}' must be a number, got {value!r}", 400) from exc


def resolve_instrument(universe: Universe, raw: dict[str, Any]) -> tuple[Instrument, str]:
    """``conid`` (SMART routing) or ``conidex`` (``conid@EXCHANGE``) -> instrument and route."""
    conid_value: Any = raw.get("conid")
    routing = "SMART"
    if conid_value is None and raw.get("conidex"):
        text = str(raw["conidex"])
        conid_value, _, routing = text.partition("@")
        routing = routing or "SMART"
    if conid_value is None:
        raise TicketError("Bad Request: order needs 'conid' or 'conidex'", 400)
    try:
        conid = int(conid_value)
    except (TypeError, ValueError) as exc:
        raise TicketError(f"Bad Request: invalid conid {conid_value!r}", 400) from exc
    inst = universe.get(conid)
    if inst is None:
        raise TicketError(f"Invalid contract id: {conid}")
    # [unconfirmed] whether SMART routing rejects FX: the simulator accepts both a plain conid and
    # "conid@IDEALPRO" for CASH pairs and routes them to IDEALPRO either way.
    if inst.sec_type == "CASH":
        routing = "IDEALPRO"
    return inst, routing


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


def parse_ticket(universe: Universe, raw: Any, default_account: str, accounts: tuple[str, ...]) -> Ticket:
    if not isinstance(raw, dict):
        raise TicketError("Bad Request: each order must be a JSON object", 400)
    inst, routing = resolve_instrument(universe, raw)
    account = default_account  # the account in the path is the one the order goes to
    if account not in accounts:
        raise TicketError(f"Account {account} is not accessible from this session")
    if raw.get("acctId") is not None and str(raw["acctId"]) != account:
        raise TicketError(f"acctId {raw['acctId']} does not match the account {account} in the request path")
    side = str(raw.get("side") or "").upper()
    if side not in {"BUY", "SELL"}:
        raise TicketError(
            f"Bad Request: order field 'side' must be BUY or SELL, got {raw.get('side')!r}", 400
        )
    order_type = str(raw.get("orderType") or "").upper()
    if order_type not in ORDER_TYPES:
        raise TicketError(f"Bad Request: unsupported orderType {raw.get('orderType')!r}", 400)
    if order_type == "MIDPRICE" and inst.sec_type != "STK":
        # The contract's rules do not list midprice (sim/api/secdef_views.py); the wording is the simulator's.
        raise TicketError(f"MIDPRICE orders are not supported for {inst.sec_type} contracts")
    tif = str(raw.get("tif") or "DAY").upper()
    if tif not in TIFS:
        raise TicketError(f"Bad Request: unsupported tif {raw.get('tif')!r}", 400)
    quantity = _number(raw, "quantity")
    if quantity is None:
        quantity = _number(raw, "fxQty") if raw.get("isCcyConv") else None
    if quantity is None and raw.get("cashQty") is not None and inst.sec_type == "CASH":
        cash = _number(raw, "cashQty") or 0.0
        quantity = round(cash / max(inst.price, 1e-9))
    if quantity is None or quantity <= 0:
        raise TicketError("Bad Request: order field 'quantity' must be a positive number", 400)
    if inst.sec_type in {"STK", "OPT", "FUT"} and not float(quantity).is_integer():
        raise TicketError(f"Fractional quantity {quantity:g} is not supported for {inst.symbol}")
    price = _number(raw, "price", required=order_type in {"LMT", "STP", "STOP_LIMIT", "TRAILLMT"})
    aux = _number(raw, "auxPrice", required=order_type in {"STOP_LIMIT", "TRAILLMT"})
    trailing_amt = _number(raw, "trailingAmt", required=order_type in {"TRAIL", "TRAILLMT"})
    check_on_grid(inst, price, "price")
    check_on_grid(inst, aux, "auxPrice")
    trailing_type = raw.get("trailingType")
    if order_type in {"TRAIL", "TRAILLMT"} and trailing_type not in {"amt", "%"}:
        raise TicketError("Bad Request: order field 'trailingType' must be 'amt' or '%'", 400)
    if inst.sec_type == "FUT" and (raw.get("manualIndicator") is None or not raw.get("extOperator")):
        raise TicketError(
            "Futures orders must carry 'manualIndicator' and 'extOperator' (CME Rule 536-B); "
            "order not submitted."
        )
    return Ticket(
        account=account,
        inst=inst,
        routing=routing,
        side=side,
        order_type=order_type,
        quantity=float(quantity),
        price=price,
        aux_price=aux,
        tif=tif,
        outside_rth=bool(raw.get("outsideRTH", False)),
        coid=str(raw["cOID"]) if raw.get("cOID") is not None else None,
        parent_coid=str(raw["parentId"]) if raw.get("parentId") is not None else None,
        single_group=bool(raw.get("isSingleGroup", False)),
        trailing_amt=trailing_amt,
        trailing_type=str(trailing_type) if trailing_type else None,
        raw=dict(raw),
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
