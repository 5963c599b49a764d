"""View-models of the Trading tab (pure, no Streamlit): order ticket -> host order dict, contract
search candidates, option/future chain choices, what-if preview rows, live orders and fills."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import define, field

from ..masking import mask_account, mask_text
from ..models import (
    FutureContract,
    IBKRContract,
    Order,
    Quote,
    SecdefInfo,
    SecdefSearchResult,
    Trade,
    WhatIf,
    WhatIfChange,
)
from ..naming import describe_contract, describe_row
from ..ops.journal import JournalEntry
from ..orders.rules import ORDER_TYPES_BY_SEC_TYPE
from ..orders.status import status_info, status_label
from ..wire.convert import WIRE_CLIENT_ORDER_ID, ticket_terms

Row = dict[str, Any]

#: Security types the ticket offers: label -> (CPAPI secType, host asset_type).
SEC_TYPES: dict[str, tuple[str, str]] = {
    "Stock / ETF": ("STK", "stock"),
    "Option": ("OPT", "option"),
    "Future": ("FUT", "futures"),
    "Forex": ("CASH", "forex"),
    "Bond": ("BOND", "bond"),
}

#: Host order types the ticket offers, and which price fields each needs.
ORDER_TYPES: dict[str, tuple[bool, bool]] = {
    # order_type: (needs limit price, needs stop price)
    "limit": (True, False),
    "market": (False, False),
    "stop": (False, True),
    "stop_limit": (True, True),
    # IBKR's Midprice order (US stocks, when the contract's rules list it): the limit price is its cap.
    "midprice": (True, False),
}
SIDES: tuple[str, ...] = ("buy", "sell")
TIFS: tuple[str, ...] = ("day", "gtc", "ioc")

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_RE = re.compile(r"^(" + "|".join(_MONTHS) + r")(\d{2})$")


@define(frozen=True, kw_only=True)
class Candidate:
    """One contract-search result the trader can pick."""

    conid: int
    label: str
    symbol: str
    option_months: list[str] = field(factory=list)
    future_months: list[str] = field(factory=list)


@define(frozen=True, kw_only=True)
class OrderTicket:
    """What the trader typed; :func:`host_order` turns it into the host's order dict."""

    symbol: str
    asset_type: str
    side: str
    quantity: float
    order_type: str
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: str = "day"
    client_order_id: str | None = None
    account_id: str | None = None
    option_type: str | None = None
    strike: float | None = None
    expiration: str | None = None


def order_types_for(sec_type: str, ibkr_types: Iterable[str] | None = None) -> list[str]:
    """The ticket's order types for a contract: those of :data:`ORDER_TYPES` the plugin takes for
    ``sec_type`` and, when IBKR's contract rules were read (``ibkr_types``: ``limit``,
    ``midprice``, ...), that IBKR lists too; the ticket's order otherwise."""
    allowed = ORDER_TYPES_BY_SEC_TYPE.get(sec_type.upper(), frozenset(ORDER_TYPES))
    listed = {t.lower() for t in ibkr_types} if ibkr_types else None
    return [t for t in ORDER_TYPES if t in allowed and (listed is None or t in listed)] or ["limit"]


def price_label(order_type: str) -> str:
    """The ticket's label of the limit price: a Midprice order's is its price cap."""
    return "Price cap (midprice)" if order_type == "midprice" else "Limit price"


def coupon_of(text: str | float | None) -> float | None:
    """A bond's coupon from IBKR's ``coupon`` text (``"3.3"``), ``None`` when it is not a number."""
    try:
        return float(text) if text not in (None, "") else None
    except (TypeError, ValueError):
        return None


def search_candidates(results: Iterable[SecdefSearchResult]) -> list[Candidate]:
    """Search results -> pickable candidates. Bond-issuer placeholders (no real conid) and rows
    without a conid are left out; IBKR's ``2147483647`` placeholder is not a contract."""
    out: list[Candidate] = []
    for r in results:
        if r.conid is None or r.conid == 2147483647:
            continue
        symbol = r.symbol or str(r.conid)
        header = r.company_header or r.company_name or symbol
        label = f"{symbol} · {header} · conid {r.conid}"
        opt_months: list[str] = []
        fut_months: list[str] = []
        for section in r.sections:
            months = [m for m in (section.months or "").split(";") if m]
            if section.sec_type == "OPT":
                opt_months.extend(months)
            elif section.sec_type == "FUT":
                fut_months.extend(months)
        out.append(
            Candidate(
                conid=r.conid,
                label=label,
                symbol=symbol,
                option_months=sort_months(set(opt_months)),
                future_months=sort_months(set(fut_months)),
            )
        )
    return out


def sort_months(months: Iterable[str]) -> list[str]:
    """``MMMYY`` months (``OCT24``) in calendar order; anything unparsable goes last, as given."""

    def key(m: str) -> tuple[int, int, str]:
        match = _MONTH_RE.match(m.upper())
        if not match:
            return (9999, 99, m)
        return (2000 + int(match.group(2)), _MONTHS.index(match.group(1)), m)

    return sorted(months, key=key)


def expiry_to_month(expiry: str) -> str:
    """``20241018`` or ``202410`` -> ``OCT24`` (the ``month`` parameter of strikes/secdef info)."""
    digits = expiry.strip()
    if not re.fullmatch(r"\d{6}(\d{2})?", digits):
        raise ValueError(f"expiry: expected YYYYMM or YYYYMMDD, got {expiry!r}")
    month = int(digits[4:6])
    if not 1 <= month <= 12:
        raise ValueError(f"expiry: month {month} out of range in {expiry!r}")
    return f"{_MONTHS[month - 1]}{digits[2:4]}"


def option_choices(infos: Iterable[SecdefInfo]) -> list[tuple[str, SecdefInfo]]:
    """``/secdef/info`` records for one month -> (label, record), by expiry, right, strike."""
    usable = [i for i in infos if i.conid is not None]
    usable.sort(key=lambda i: (i.maturity_date or "", i.right or "", i.strike or 0.0))
    out = []
    for info in usable:
        right = {"C": "Call", "P": "Put"}.get((info.right or "").upper(), info.right or "?")
        label = f"{info.symbol or ''} {info.maturity_date or '?'} {info.strike} {right} · conid {info.conid}"
        out.append((label.strip(), info))
    return out


def future_choices(
    futures: Iterable[FutureContract], today: dt.date | None = None
) -> list[tuple[str, FutureContract]]:
    """``/trsrv/futures`` contracts that have not expired, front month first."""
    today = today or dt.date.today()
    live = [
        f
        for f in futures
        if f.conid is not None and (f.expiration_date is None or f.expiration_date >= today)
    ]
    live.sort(key=lambda f: f.expiration_date or dt.date.max)
    return [(_future_label(f), f) for f in live]


def _future_label(future: FutureContract) -> str:
    """``ES Dec 2026 · expires 2026-12-18 · conid 775661296``: the contract month named as
    ``describe_contract`` names it everywhere else (``/trsrv/futures`` gives no local symbol, so
    the ``(ESZ6)`` part comes once the picked contract's definition is read)."""
    expiry = future.expiration_date
    name = describe_contract(
        {
            "sec_type": "FUT",
            "symbol": future.symbol or "",
            "expiry": expiry.strftime("%Y%m%d") if expiry else None,
        }
    )
    return f"{name} · expires {expiry.isoformat() if expiry else '?'} · conid {future.conid}"


def contract_from_option(info: SecdefInfo, underlying: str) -> IBKRContract:
    """A picked option record -> the contract the order goes to."""
    if info.conid is None:
        raise ValueError("conid: the option record has no conid")
    return IBKRContract(
        conid=info.conid,
        sec_type=info.sec_type or "OPT",
        symbol=info.symbol or underlying,
        exchange=info.exchange or "SMART",
        currency=info.currency or "USD",
        multiplier=info.multiplier,
        expiry=info.maturity_date,
        strike=info.strike,
        right=(info.right or None),
        description=" ".join(x for x in (info.desc1, info.desc2) if x),
        listing_exchange=info.listing_exchange,
        trading_class=info.trading_class,
    )


def host_order(ticket: OrderTicket) -> dict[str, Any]:
    """The host order dict (HOST_CONTRACT §4) for a ticket; only the price fields the order type
    uses are set, so a stale limit price in a hidden input never reaches the order."""
    needs_limit, needs_stop = ORDER_TYPES.get(ticket.order_type, (False, False))
    order: dict[str, Any] = {
        "symbol": ticket.symbol,
        "asset_type": ticket.asset_type,
        "side": ticket.side,
        "qty": ticket.quantity,
        "order_type": ticket.order_type,
        "time_in_force": ticket.time_in_force,
    }
    if needs_limit:
        order["limit_price"] = ticket.limit_price
    if needs_stop:
        order["stop_price"] = ticket.stop_price
    if ticket.client_order_id:
        order["client_order_id"] = ticket.client_order_id
    if ticket.account_id:
        order["account_id"] = ticket.account_id
    if ticket.asset_type in {"option", "options"}:
        order["option_type"] = ticket.option_type
        order["strike"] = ticket.strike
        order["expiration"] = ticket.expiration
    return order


def order_summary(order: Mapping[str, Any], contract_label: str) -> str:
    """One line for the confirmation box: ``BUY 10 AAPL (conid 265598) LIMIT 150.00 DAY``."""
    parts = [str(order.get("side", "")).upper(), f"{order.get('qty', order.get('quantity'))}", contract_label]
    parts.append(str(order.get("order_type", "")).upper())
    if order.get("limit_price") is not None:
        parts.append(f"limit {float(order['limit_price']):,.4g}")
    if order.get("stop_price") is not None:
        parts.append(f"stop {float(order['stop_price']):,.4g}")
    parts.append(str(order.get("time_in_force", "")).upper())
    return " ".join(p for p in parts if p)


def split_warning(warn: str | None) -> tuple[str | None, str | None]:
    """IBKR's ``"21/You are trying ..."`` -> (``"21"``, ``"You are trying ..."``), whitespace tidied."""
    if not warn:
        return None, None
    code, sep, text = warn.partition("/")
    if sep and code.strip().isdigit():
        return code.strip(), " ".join(text.split())
    return None, " ".join(warn.split())


def whatif_rows(whatif: WhatIf) -> list[Row]:
    """The margin / equity / position impact of a preview as rows (IBKR's text kept as sent)."""
    rows: list[Row] = []
    parts: tuple[tuple[str, WhatIfChange | None], ...] = (
        ("Equity with loan", whatif.equity),
        ("Initial margin", whatif.initial),
        ("Maintenance margin", whatif.maintenance),
        ("Position", whatif.position),
    )
    for label, change in parts:
        if change is None:
            continue
        rows.append({"": label, "Current": change.current, "Change": change.change, "After": change.after})
    return rows


def whatif_headline(whatif: WhatIf) -> dict[str, str | None]:
    """Amount, commission and total of a preview (IBKR's formatted text)."""
    amount = whatif.amount
    return {
        "amount": amount.amount if amount else None,
        "commission": amount.commission if amount else None,
        "total": amount.total if amount else None,
    }


def is_open(order: Order) -> bool:
    """The order can still be cancelled or modified (the status vocabulary, orders.status, says)."""
    info = status_info(order.status)
    return info.cancellable or info.modifiable


def is_live(order: Order) -> bool:
    """IBKR is still working the order (``PendingCancel`` included: the cancel is not through yet)."""
    return status_info(order.status).live


def is_cancellable(order: Order) -> bool:
    return status_info(order.status).cancellable


def is_modifiable(order: Order) -> bool:
    return status_info(order.status).modifiable


def ticket_quote(quote: Quote | None) -> dict[str, str]:
    """The ticket's bid / ask / last / spread cells (every digit, ``—`` when IBKR sent none) and a
    note (``· last = previous close``, ``· halted``)."""
    if quote is None or not quote.has_data:
        return {"bid": "—", "ask": "—", "last": "—", "spread": "—", "note": " · waiting for data"}
    spread = quote.ask - quote.bid if quote.ask is not None and quote.bid is not None else None
    notes = []
    if quote.last_is_close:
        notes.append("last = previous close")
    if quote.halted:
        notes.append("halted")
    return {
        "bid": format_price(quote.bid),
        "ask": format_price(quote.ask),
        "last": format_price(quote.last),
        "spread": format_price(round(spread, 10)) if spread is not None else "—",
        "note": "".join(f" · {n}" for n in notes),
    }


def order_name(order: Order, names: Mapping[int, str] | None = None) -> str:
    """The contract of a live order in full (``AAPL 2027-01-15 185 P``, ``ES Dec 2026 (ESZ6)``):
    ``names`` (conid -> name from the contract's definition) first, else read from IBKR's text."""
    if names and order.conid is not None and order.conid in names:
        return names[order.conid]
    return describe_row(
        order.sec_type, order.ticker or order.description1, order.description2, currency=order.cash_ccy
    )


def live_order_rows(orders: Iterable[Order], names: Mapping[int, str] | None = None) -> list[Row]:
    """Live orders, newest first (by IBKR's order id), with the account masked."""
    ordered = sorted(orders, key=lambda o: o.order_id or 0, reverse=True)
    return [
        {
            "Order id": o.order_id,
            "Symbol": order_name(o, names),
            "Type": o.sec_type or "",
            "Side": o.side or "",
            "Order": o.order_desc or o.order_type or "",
            "Quantity": o.total_size,
            "Unit": quantity_unit(o.sec_type, o.total_size, _base_currency(o)),
            "Filled": o.filled_quantity,
            "Remaining": o.remaining_quantity,
            "Price": o.price,
            "Avg fill": o.avg_price,
            "Status": status_label(o.status),  # one spelling with the order log (orders.status)
            WIRE_CLIENT_ORDER_ID: o.client_order_id or "",
            "Account": mask_account(o.account or o.acct),
        }
        for o in ordered
    ]


def fill_rows(trades: Iterable[Trade], names: Mapping[int, str] | None = None) -> list[Row]:
    """Recent executions, newest first; ``names``: conid -> the contract in full."""
    names = names or {}
    ordered = sorted(trades, key=lambda t: t.trade_time_r or 0, reverse=True)
    return [
        {
            "Time": fill_time(t),
            "Symbol": (names.get(t.conid) if t.conid is not None else None)
            or describe_row(t.sec_type, t.symbol or t.contract_description_1, t.contract_description_2),
            "Type": t.sec_type or "",
            "Side": {"B": "BUY", "S": "SELL"}.get(t.side or "", t.side or ""),
            "Size": t.size,
            "Unit": quantity_unit(t.sec_type, t.size, _trade_base(t)),
            "Price": t.price,
            "Commission": t.commission,
            "Net amount": t.net_amount,
            "Exchange": t.exchange or "",
            WIRE_CLIENT_ORDER_ID: t.client_order_id or "",
            "Account": mask_account(t.account or t.account_code),
        }
        for t in ordered
    ]


def fill_time(trade: Trade, tz: dt.tzinfo | None = None) -> str:
    """An execution's time as a local date-time (``2026-12-03 14:05:07 CET``) from IBKR's epoch-ms
    ``trade_time_r``; IBKR's ``trade_time`` text (UTC, ``20261203-13:05:07``) when that is absent."""
    if trade.trade_time_r:
        when = dt.datetime.fromtimestamp(trade.trade_time_r / 1000, tz=dt.UTC).astimezone(tz)
        return when.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    text = trade.trade_time or ""
    try:
        when = dt.datetime.strptime(text, "%Y%m%d-%H:%M:%S").replace(tzinfo=dt.UTC).astimezone(tz)
    except ValueError:
        return text
    return when.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _trade_base(trade: Trade) -> str | None:
    symbol = trade.symbol or ""
    return symbol.split(".", 1)[0] if "." in symbol else None


def pacing_text(endpoint: str, interval: float, left: float) -> str:
    """What the spinner says while IBKR's pacing holds a request back:
    ``IBKR allows one live-orders request per 5 s; 3 s left``."""
    return f"IBKR allows one {endpoint} request per {interval:g} s; {max(1, math.ceil(left))} s left"


_ASSET_OF_SEC_TYPE = {sec: asset for sec, asset in SEC_TYPES.values()}


def ticket_for(
    contract: IBKRContract,
    *,
    side: str,
    quantity: float,
    order_type: str,
    limit_price: float | None = None,
    stop_price: float | None = None,
    time_in_force: str = "day",
    client_order_id: str | None = None,
) -> OrderTicket:
    """An order ticket for a picked contract: symbol, asset type and option terms come from the
    contract itself, so the order can never name another instrument than the one shown."""
    asset_type = _ASSET_OF_SEC_TYPE.get(contract.sec_type)
    if asset_type is None:
        raise ValueError(f"contract.sec_type: the page cannot trade {contract.sec_type!r}")
    is_option = contract.sec_type == "OPT"
    return OrderTicket(
        symbol=contract.symbol,
        asset_type=asset_type,
        side=side,
        quantity=quantity,
        order_type=order_type,
        limit_price=limit_price,
        stop_price=stop_price,
        time_in_force=time_in_force,
        client_order_id=client_order_id,
        option_type={"C": "call", "P": "put"}.get(contract.right or "") if is_option else None,
        strike=contract.strike if is_option else None,
        expiration=contract.expiry if is_option else None,
    )


def contract_label(contract: IBKRContract) -> str:
    """``AAPL 2024-01-05 195 C (OPT, conid 123)``: the contract in full, as the ticket names it."""
    return f"{describe_contract(contract)} ({contract.sec_type}, conid {contract.conid})"


#: Snapshot fields of the option chain: last, bid, ask, implied vol of this option (REFERENCE §5).
CHAIN_FIELDS: tuple[str, ...] = ("31", "84", "86", "7633")


def _iv(quote: Quote | None) -> float | None:
    """Field 7633 (implied vol of this option, ``"23.4%"``) as a number in percent; ``None`` if absent."""
    if quote is None:
        return None
    text = str(quote.fields.get("7633") or "").strip().rstrip("%")
    try:
        return float(text) if text else None
    except ValueError:
        return None


def chain_rows(
    infos: Iterable[SecdefInfo],
    quotes: Mapping[int, Quote],
    expiry: str,
    center: float | None = None,
    width: int = 7,
) -> list[Row]:
    """One row per strike of ``expiry``: call bid/ask/last/IV | strike | put bid/ask/last/IV, the
    ``width`` strikes each side of ``center`` (the strike picked); empty cells where IBKR sent none."""
    by_strike: dict[float, dict[str, SecdefInfo]] = {}
    for info in infos:
        if info.conid is None or info.strike is None or (info.maturity_date or "") != expiry:
            continue
        by_strike.setdefault(float(info.strike), {})[(info.right or "").upper()[:1]] = info
    strikes = sorted(by_strike)
    if center is not None and strikes:
        nearest = min(range(len(strikes)), key=lambda i: abs(strikes[i] - center))
        strikes = strikes[max(0, nearest - width) : nearest + width + 1]
    rows: list[Row] = []
    for strike in strikes:
        row: Row = {}
        for right, label in (("C", "Call"), ("P", "Put")):
            pick = by_strike[strike].get(right)
            q = quotes.get(int(pick.conid)) if pick is not None and pick.conid is not None else None
            row[f"{label} bid"] = q.bid if q else None
            row[f"{label} ask"] = q.ask if q else None
            row[f"{label} last"] = q.last if q else None
            row[f"{label} IV %"] = _iv(q)
            if right == "C":
                row["Strike"] = strike
        rows.append(row)
    return rows


def chain_conids(infos: Iterable[SecdefInfo], rows: Iterable[Row], expiry: str) -> list[int]:
    """The conids of the options shown in ``rows`` (for the snapshot)."""
    shown = {r["Strike"] for r in rows}
    return [
        int(i.conid)
        for i in infos
        if i.conid is not None
        and i.strike is not None
        and float(i.strike) in shown
        and (i.maturity_date or "") == expiry
    ]


#: Security types whose order-log row needs the full contract to be named (the log keeps the conid).
NAMED_BY_CONTRACT = frozenset({"OPT", "FOP", "FUT", "BOND"})


def order_log_rows(entries: Iterable[JournalEntry], names: Mapping[int, str] | None = None) -> list[Row]:
    """Order-log entries (newest first, as the journal gives them) with the account masked;
    ``names``: conid -> the contract in full, for rows whose symbol alone does not name it."""
    names = names or {}
    return [
        {
            WIRE_CLIENT_ORDER_ID: e.client_order_id,
            "Symbol": names.get(e.conid) or describe_row(e.sec_type, e.symbol, currency=e.currency),
            "Type": e.sec_type,
            "Side": e.side,
            "Order": e.order_type,
            "Quantity": e.quantity,
            "Price": e.price,
            "Status": status_label(e.status),
            "Order id": e.order_id or "",
            "Filled": e.filled_quantity,
            "Mode": e.mode,
            "Account": mask_account(e.account_id),
            "Message": mask_text(e.message or ""),
        }
        for e in entries
    ]


def question_text(transcript: Iterable[Mapping[str, Any]], fallback: str) -> str:
    """IBKR's own wording of the last question in an order transcript (whitespace tidied)."""
    for record in reversed(list(transcript)):
        messages = record.get("messages")
        if messages:
            return " ".join(" ".join(str(m) for m in messages).split())
    return fallback


_MODIFIABLE = {"LIMIT": "limit", "LMT": "limit", "MARKET": "market", "MKT": "market"}


def modify_order_dict(
    order: Order, symbol: str, quantity: float, price: float | None
) -> dict[str, Any] | None:
    """The host order dict that modifies a live limit or market order (same side, type and TIF,
    new quantity and, for a limit, new price); ``None`` for order types the page does not modify."""
    kind = _MODIFIABLE.get((order.orig_order_type or order.order_type or "").upper().replace(" ", "_"))
    if kind is None:
        return None
    modified: dict[str, Any] = {
        "symbol": symbol,
        "side": (order.side or "").lower(),
        "qty": quantity,
        "order_type": kind,
        "time_in_force": (order.time_in_force or "day").lower(),
    }
    if kind == "limit":
        modified["limit_price"] = price
    return modified


#: The unit of an order's quantity per security type (singular, plural).
QUANTITY_UNITS: dict[str, tuple[str, str]] = {
    "STK": ("share", "shares"),
    "OPT": ("contract", "contracts"),
    "FOP": ("contract", "contracts"),
    "FUT": ("contract", "contracts"),
    "BOND": ("face value", "face value"),
}


def quantity_unit(sec_type: str | None, quantity: float | None = None, currency: str | None = None) -> str:
    """``share``/``shares``, ``contract(s)``, ``face value``; forex in the base currency (``EUR``)."""
    kind = (sec_type or "").upper()
    if kind == "CASH":
        return currency or "base currency"
    one, many = QUANTITY_UNITS.get(kind, ("unit", "units"))
    return one if quantity is not None and abs(float(quantity)) == 1 else many


@define(frozen=True, kw_only=True)
class ModifyTerms:
    """What the modify panel starts from: the picked order's own terms (never a previous pick's)."""

    order_type: str | None  # host order type the page can modify ("limit"/"market"), else None
    quantity: float
    price: float | None
    time_in_force: str
    unit: str
    caption: str


def _base_currency(order: Order) -> str | None:
    ticker = order.ticker or ""
    if "." in ticker:
        return ticker.split(".", 1)[0]
    return None


def modify_terms(order: Order) -> ModifyTerms:
    """The picked order's quantity, limit price, type and TIF, as the modify panel shows them."""
    kind = _MODIFIABLE.get((order.orig_order_type or order.order_type or "").upper().replace(" ", "_"))
    quantity = float(order.total_size or 0.0)
    tif = (order.time_in_force or "day").lower()
    unit = quantity_unit(order.sec_type, quantity, _base_currency(order))
    shown_type = (kind or order.order_type or "?").upper()
    caption = f"{(order.side or '').upper()} {quantity:,g} {unit} · {shown_type} · {tif.upper()}"
    if kind == "limit" and order.price is not None:
        caption += f" · limit {format_price(order.price)}"
    return ModifyTerms(
        order_type=kind,
        quantity=quantity,
        price=order.price if kind == "limit" else None,
        time_in_force=tif,
        unit=unit,
        caption=caption,
    )


def format_price(value: float | None, group: bool = True) -> str:
    """A price exactly as sent, thousands grouped: 185.12 -> ``185.12``, 5850.25 -> ``5,850.25``,
    1.08525 -> ``1.08525`` (no rounding to a fixed number of digits; at least two decimals)."""
    if value is None:
        return "—"
    text = f"{float(value):{',' if group else ''}.10f}".rstrip("0").rstrip(".")
    if "." not in text:
        return f"{text}.00"
    whole, frac = text.split(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _quantity_text(quantity: float, unit: str) -> str:
    return f"{quantity:,.10f}".rstrip("0").rstrip(".") + f" {unit}"


def _price_line(label: str, typed: Any, sent: Any) -> str:
    if sent is None:
        return f"{label}: —"
    line = f"{label}: {format_price(float(sent))}"
    if typed is not None and float(typed) != float(sent):
        line += (
            f" (tick rounding: {format_price(float(typed), group=False)} -> "
            f"{format_price(float(sent), group=False)})"
        )
    return line


def confirm_ticket(
    order: Mapping[str, Any], payload: Mapping[str, Any], contract: IBKRContract
) -> tuple[str, list[str]]:
    """The confirm box, computed from the translated ``payload`` the client will send (prices after
    tick rounding, the rounding shown when it moved a price): a headline and one line per term."""
    sec_type = contract.sec_type
    terms = ticket_terms(payload)  # the ticket read back through the wire layer
    quantity = terms.quantity or float(terms.cash_quantity or 0)
    base = contract.symbol.split(".", 1)[0] if "." in contract.symbol else contract.symbol
    unit = quantity_unit(sec_type, quantity, base if sec_type == "CASH" else None)
    side = str(terms.side or order.get("side", "")).upper()
    host_type = str(order.get("order_type", "")).upper().replace("_", " ")
    wire_type = terms.order_type
    kind = host_type if wire_type in ("", host_type) else f"{host_type} ({wire_type})"
    tif = str(terms.tif if terms.tif is not None else order.get("time_in_force", "")).upper()
    name = describe_contract(contract)
    lines = [
        f"Side: {side}",
        f"Quantity: {_quantity_text(quantity, unit)}",
        f"Contract: {name} ({sec_type}, conid {contract.conid})",
        f"Order type: {kind}",
    ]
    needs_limit, needs_stop = ORDER_TYPES.get(str(order.get("order_type", "")), (False, False))
    if needs_limit or terms.price is not None:
        lines.append(_price_line("Limit price", order.get("limit_price"), terms.price))
    if needs_stop or terms.aux_price is not None:
        lines.append(_price_line("Stop price", order.get("stop_price"), terms.aux_price))
    lines.append(f"Time in force: {tif}")
    lines.append(f"Outside regular hours: {'yes' if terms.outside_rth else 'no'}")
    lines.append(f"Account: {mask_account(terms.account_id) or '—'}")
    head = [side, _quantity_text(quantity, unit), name, host_type]
    if terms.price is not None:
        head.append(format_price(float(terms.price)))
    if terms.aux_price is not None:
        head.append(f"stop {format_price(float(terms.aux_price))}")
    head.append(tif)
    return " ".join(h for h in head if h), lines
