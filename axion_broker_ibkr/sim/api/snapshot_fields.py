"""Snapshot / ``smd`` field ids (REFERENCE §5.2) and how the simulator renders each as a string."""

from __future__ import annotations

from collections.abc import Callable

from ..engine.paper_market import Quote, fmt_price, fmt_size, fmt_volume
from ..engine.universe import Instrument

Render = Callable[[Instrument, Quote], str | None]


def _signed(text: str) -> str:
    return text if text.startswith("-") or text.strip("0.") == "" else "+" + text


def _change(inst: Instrument, q: Quote) -> str:
    # Field 82 as gateways send it: signed text, "+1.25" / "-0.40" (captured snapshot rows in public
    # clients' recorded responses show "82":"+1.25"); zero unsigned.
    return _signed(fmt_price(inst, q.last - q.prior_close))


def _change_pct(inst: Instrument, q: Quote) -> str:
    # Field 83: signed percent text with a "%" ("+0.84%", "-0.19%") as captured rows show; the
    # gateway-bundled doc's plain number (REFERENCE §5.1) is read by the client too.
    if not q.prior_close:
        return "0.00%"
    return _signed(f"{(q.last - q.prior_close) / q.prior_close * 100:.2f}") + "%"


def _lot_size(inst: Instrument, value: float) -> str:
    # Fields 85/88: IBKR's field list (as ibind's ibkr_definitions.py carries it): "For US stocks,
    # the number displayed is divided by 100". The book keeps shares; the field shows lots.
    if inst.sec_type == "STK" and inst.is_us:
        return fmt_size(value / 100)
    return fmt_size(value)


def _mark(inst: Instrument, q: Quote) -> str:
    # IBKR's field list (snapshot field 7635, "Mark"): the ask if ask < last, the bid if bid > last,
    # otherwise the last price -- not the bid/ask midpoint.
    if q.ask < q.last:
        return fmt_price(inst, q.ask)
    if q.bid > q.last:
        return fmt_price(inst, q.bid)
    return fmt_price(inst, q.last)


def _opt(inst: Instrument, value: object) -> str | None:
    return None if value is None else str(value)


#: field id -> renderer. Values are strings, as the gateway sends them; ``None`` = not available.
FIELDS: dict[str, Render] = {
    "31": lambda i, q: fmt_price(i, q.last),
    "55": lambda i, q: i.symbol,
    "58": lambda i, q: i.description,
    "70": lambda i, q: fmt_price(i, q.high),
    "71": lambda i, q: fmt_price(i, q.low),
    "82": _change,
    "83": _change_pct,
    "84": lambda i, q: fmt_price(i, q.bid),
    "85": lambda i, q: _lot_size(i, q.ask_size),
    "86": lambda i, q: fmt_price(i, q.ask),
    "87": lambda i, q: fmt_volume(q.volume),
    "88": lambda i, q: _lot_size(i, q.bid_size),
    "201": lambda i, q: i.right,
    "6004": lambda i, q: i.exchange,
    "6008": lambda i, q: str(i.conid),
    "6070": lambda i, q: i.sec_type,
    "6457": lambda i, q: _opt(i, i.underlying_conid),
    "6509": lambda i, q: "RpB",  # paper is real-time here; real paper accounts often show delayed data
    "7051": lambda i, q: i.name,
    "7059": lambda i, q: fmt_size(q.last_size),
    "7084": lambda i, q: "100.00" if i.sec_type in {"STK", "OPT"} else None,
    "7184": lambda i, q: "1",
    "7219": lambda i, q: str(i.conid),
    "7220": lambda i, q: i.contract_desc,
    "7221": lambda i, q: i.listing_exchange,
    "7280": lambda i, q: i.industry or None,
    "7281": lambda i, q: i.category or None,
    "7295": lambda i, q: fmt_price(i, q.open),
    # IBKR's field list: 7296 is today's closing price. The simulated session has not closed while
    # it quotes, so the field is "not available" (absent) rather than a copy of the last price.
    "7296": lambda i, q: None,
    "7635": _mark,
    "7741": lambda i, q: fmt_price(i, q.prior_close),
    "7762": lambda i, q: str(int(q.volume)),
    "7768": lambda i, q: "1",
}


def render_fields(inst: Instrument, quote: Quote, fields: list[str]) -> dict[str, str]:
    """The requested fields that have a value now (a missing key means "not available")."""
    out: dict[str, str] = {}
    for fid in fields:
        render = FIELDS.get(fid)
        if render is None:
            continue
        value = render(inst, quote)
        if value is not None:
            out[fid] = value
    return out
