"""Order tickets as the gateway receives them (JSON): each field read and checked into a ``Ticket``."""

from __future__ import annotations

from typing import Any

from ...errors import TicketError
from ..engine.tickets import Ticket, check_on_grid
from ..engine.universe import Instrument, Universe

ORDER_TYPES = {"LMT", "MKT", "STP", "STOP_LIMIT", "MIDPRICE", "TRAIL", "TRAILLMT"}
TIFS = {"DAY", "GTC", "IOC", "OPG", "GTD", "OVT", "OND", "PAX", "CLOSE"}


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
