"""Host order dict + resolved contract -> one CPAPI order (pure, no I/O).

``intent_from_host`` validates the host's dict against the contract (order type, TIF and price
fields per security type, quantity units, option strike/right/expiry) and returns an
:class:`OrderIntent`. ``payload_from_intent`` applies the account settings (fractional shares,
CME Rule 536-B fields for futures) and the contract's tick grid and returns a :class:`CPAPIOrder`.
``translate_order`` does both and returns the wire dict. Every refusal is an
:class:`~axion_broker_ibkr.errors.OrderValidationError` (a ``ValueError``) naming the field; no
payload exists until every check has passed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import cattrs

from .. import convert
from ..errors import OrderValidationError, UnsupportedAssetError
from . import fields as f
from .model import CPAPIOrder, OrderIntent, TranslateOptions, options_from_env
from .prices import contract_grid, round_to_grid
from .rules import (
    ASSET_TO_SEC_TYPE,
    CLOSE_ORDER_TYPES,
    FX_EXCHANGE,
    MAX_PRICE,
    ORDER_TYPES,
    ORDER_TYPES_BY_SEC_TYPE,
    OUTSIDE_RTH_ORDER_TYPES,
    QUANTITIES,
    REFUSED_ASSETS,
    REFUSED_TIFS,
    SEC_TYPES,
    SIDES,
    TIFS,
    WIRE_TIFS,
)

_unstructure_order, _structure_order = convert.register_sending_model(
    CPAPIOrder, convert.CPAPI_ORDER_WIRE_NAMES
)

_WIRE_ORDER_TYPES = {rule.wire: name for name, rule in ORDER_TYPES.items()}
_WIRE_CLOSE_TYPES = {wire: name for name, wire in CLOSE_ORDER_TYPES.items()}
_WIRE_SIDES = {"BUY": "buy", "SELL": "sell"}
_KNOWN_TIFS = {**TIFS, **REFUSED_TIFS}


def new_client_order_id() -> str:
    """A fresh ``cOID``: ``AX`` + seconds (hex) + 64 random bits, 26 characters, unique for 24 h."""
    return f"AX{int(time.time()):08x}{secrets.token_hex(8)}"


def asset_type_to_sec_type(asset_type: str) -> str:
    """Host asset type (both vocabularies, HOST_CONTRACT §4) -> IBKR secType; crypto/funds refused."""
    if isinstance(asset_type, str):
        key = asset_type.strip().lower()
        sec_type = ASSET_TO_SEC_TYPE.get(key)
        if sec_type is not None:
            return sec_type
        if key in REFUSED_ASSETS:
            raise UnsupportedAssetError("asset_type", REFUSED_ASSETS[key])
    f.fail(
        "asset_type", f"unknown asset type {asset_type!r:.40}; expected one of {', '.join(ASSET_TO_SEC_TYPE)}"
    )


# --------------------------------------------------------------------------------------------
# host dict -> OrderIntent


def _contract_identity(contract: Any) -> tuple[int, str]:
    if not f.is_mapping(contract):
        f.fail("contract", f"expected a contract dict, got {type(contract).__name__}")
    conid = f.conid(contract.get("conid"), "contract.conid")
    sec_type = contract.get("sec_type")
    if type(sec_type) is not str or sec_type not in SEC_TYPES:
        f.fail("contract.sec_type", f"expected one of {', '.join(sorted(SEC_TYPES))}, got {sec_type!r:.40}")
    return conid, sec_type


def _check_symbol(order: Mapping[str, Any], contract: Mapping[str, Any]) -> None:
    """A symbol in the order must name the contract (``EUR.USD`` matches symbol EUR + currency USD)."""
    symbol = order.get("symbol")
    if symbol is None:
        return
    if not isinstance(symbol, str) or not symbol.strip():
        f.fail("symbol", f"expected text, got {symbol!r:.40}")
    if symbol == contract.get("symbol"):
        return
    key = f.symbol_key(symbol)
    known = [contract.get("symbol"), contract.get("local_symbol")]
    currency = contract.get("currency")
    if isinstance(known[0], str) and isinstance(currency, str):
        known.append(known[0] + currency)
    if any(isinstance(k, str) and f.symbol_key(k) == key for k in known):
        return
    f.fail("symbol", f"{symbol!r:.40} does not match the contract ({contract.get('symbol')!r})")


def _check_option(order: Mapping[str, Any], contract: Mapping[str, Any]) -> None:
    """An option contract must carry strike/right/expiry; any the order gives must agree."""
    strike = f.positive(contract.get("strike"), "contract.strike", MAX_PRICE)
    right = f.right(contract.get("right"), "contract.right")
    expiry = f.expiry(contract.get("expiry"), "contract.expiry")
    field, value = f.pick(order, "option_type", "right")
    if value is not None and f.right(value, field) != right:
        f.fail(field, f"{value!r} does not match the contract's right {right!r}")
    value = order.get("strike")
    if value is not None and abs(f.positive(value, "strike", MAX_PRICE) - strike) > 1e-9 * strike:
        f.fail("strike", f"{value!r} does not match the contract's strike {strike!r}")
    field, value = f.pick(order, "expiration", "expiry")
    if value is not None and f.expiry(value, field) != expiry:
        f.fail(field, f"{value!r} does not match the contract's expiry {expiry!r}")


def intent_from_host(order: Mapping[str, Any], contract: Mapping[str, Any]) -> OrderIntent:
    """Validate a host order dict (HOST_CONTRACT §4) against its resolved contract; no I/O."""
    if not f.is_mapping(order):
        f.fail("order", f"expected an order dict, got {type(order).__name__}")
    conid, sec_type = _contract_identity(contract)
    asset_type = order.get("asset_type")
    if (
        asset_type is not None
        and (ASSET_TO_SEC_TYPE.get(asset_type) if type(asset_type) is str else None) != sec_type
        and asset_type_to_sec_type(asset_type) != sec_type
    ):
        f.fail("asset_type", f"{asset_type!r} does not match the contract's security type {sec_type}")

    side = f.word(order.get("side"), "side", SIDES)
    order_type = f.word(order.get("order_type"), "order_type", ORDER_TYPES)
    if order_type not in ORDER_TYPES_BY_SEC_TYPE[sec_type]:
        allowed = ", ".join(sorted(ORDER_TYPES_BY_SEC_TYPE[sec_type]))
        f.fail("order_type", f"{order_type} is not taken for {sec_type} (allowed: {allowed})")
    raw_tif = order.get("time_in_force")
    tif = "day" if raw_tif is None else f.word(raw_tif, "time_in_force", _KNOWN_TIFS)
    tif_rule = TIFS.get(tif)
    if tif_rule is None:
        f.fail("time_in_force", REFUSED_TIFS[tif])
    if sec_type not in tif_rule.sec_types or order_type not in tif_rule.order_types:
        f.fail("time_in_force", f"{tif} is not taken for a {sec_type} {order_type} order")

    rule = QUANTITIES[sec_type]
    field, value = f.pick(order, "qty", "quantity")
    if value is None:
        f.fail("qty", "is required (qty or quantity)")
    quantity = f.positive(value, field, rule.maximum)
    if rule.whole and sec_type != "STK" and not quantity.is_integer():
        f.fail(field, f"{value!r} is not a whole number of {rule.unit}; nothing is rounded")

    kind = ORDER_TYPES[order_type]
    field, value = f.pick(order, "limit_price", "price")
    limit = None if value is None else f.positive(value, field, MAX_PRICE)
    if kind.limit and limit is None:
        f.fail("limit_price", f"is required for a {order_type} order")
    if not kind.limit and limit is not None:
        f.fail(field, f"is not used by a {order_type} order; remove it")
    stop = f.optional_positive(order, "stop_price", MAX_PRICE)
    if kind.stop_required and stop is None:
        f.fail("stop_price", f"is required for a {order_type} order")
    if not kind.stop and stop is not None:
        f.fail("stop_price", f"is not used by a {order_type} order; remove it")
    trail_amount = f.optional_positive(order, "trail_amount", MAX_PRICE)
    trail_percent = f.optional_positive(order, "trail_percent", 100.0)
    if kind.trailing:
        if (trail_amount is None) == (trail_percent is None):
            f.fail("trail_amount", f"a {order_type} order needs exactly one of trail_amount, trail_percent")
        if trail_percent == 100.0:
            f.fail("trail_percent", "must be below 100")
    elif trail_amount is not None or trail_percent is not None:
        f.fail("trail_amount" if trail_amount is not None else "trail_percent", "is only for trailing orders")

    extended = f.flag(order.get("extended_hours"), "extended_hours")
    if extended and (order_type not in OUTSIDE_RTH_ORDER_TYPES or tif in ("opg", "cls")):
        f.fail(
            "extended_hours",
            f"a {order_type} order with time_in_force {tif} cannot fill outside regular hours "
            f"(IBKR takes {', '.join(sorted(OUTSIDE_RTH_ORDER_TYPES))} outside RTH)",
        )
    coid = order.get("client_order_id")
    coid = new_client_order_id() if coid is None else f.client_order_id(coid)
    account = order.get("account_id")
    if account is not None:
        account = f.account_id(account)
    _check_symbol(order, contract)
    if sec_type == "OPT":
        _check_option(order, contract)
    return OrderIntent(
        conid=conid,
        sec_type=sec_type,
        side=side,
        quantity=quantity,
        order_type=order_type,
        time_in_force=tif,
        client_order_id=coid,
        limit_price=limit,
        stop_price=stop,
        trail_amount=trail_amount,
        trail_percent=trail_percent,
        extended_hours=extended,
        account_id=account,
    )


# --------------------------------------------------------------------------------------------
# OrderIntent -> CPAPIOrder


def payload_from_intent(
    intent: OrderIntent, contract: Mapping[str, Any], options: TranslateOptions | None = None
) -> CPAPIOrder:
    """Build the CPAPI order (REFERENCE §4.1) for an intent from :func:`intent_from_host` or
    :func:`intent_from_payload` (a hand-built intent skips their checks); pure.

    ``options=None`` reads the ``AXION_IBKR_*`` environment (:meth:`TranslateOptions.from_env`).
    """
    if options is None:
        options = options_from_env()
    conid, sec_type = _contract_identity(contract)
    if conid != intent.conid or sec_type != intent.sec_type:
        f.fail(
            "contract.conid", f"the intent is for {intent.conid}:{intent.sec_type}, not {conid}:{sec_type}"
        )
    if intent.order_type not in ORDER_TYPES or intent.side not in SIDES or intent.time_in_force not in TIFS:
        f.fail("intent", f"not a validated intent: {intent!r:.200}")
    return _payload(intent, contract, options)


def _payload(intent: OrderIntent, contract: Mapping[str, Any], options: TranslateOptions) -> CPAPIOrder:
    conid, sec_type = intent.conid, intent.sec_type
    quantity = float(intent.quantity)
    if quantity.is_integer():
        quantity = int(quantity)
    elif sec_type == "STK" and not options.allow_fractional:
        f.fail(
            "qty",
            f"{intent.quantity!r} is a fractional share quantity; fractional trading is off "
            "(set allow_fractional / AXION_IBKR_ALLOW_FRACTIONAL=true); nothing is rounded",
        )
    manual = operator = None
    if sec_type == "FUT":
        operator = options.futures_operator
        if not operator:
            f.fail(
                "futures_operator",
                "futures orders must carry extOperator (CME Rule 536-B): set futures_operator "
                "(AXION_IBKR_FUTURES_OPERATOR) to the operator responsible for the order",
            )
        manual = options.manual_orders

    side = SIDES[intent.side]
    kind = ORDER_TYPES[intent.order_type]
    limit, stop = intent.limit_price, intent.stop_price
    grid = contract_grid(contract)
    if grid is not None:
        down = side == "BUY"
        if limit is not None:
            limit = round_to_grid(limit, grid, down)
            if limit <= 0.0:
                f.fail("limit_price", f"{intent.limit_price!r} is below one tick of the contract")
        if stop is not None:
            stop = round_to_grid(stop, grid, down)
            if stop <= 0.0:
                f.fail("stop_price", f"{intent.stop_price!r} is below one tick of the contract")
    if kind.limit:
        price, aux = limit, stop
    else:
        price, aux = stop, None

    tif = intent.time_in_force
    order_type = CLOSE_ORDER_TYPES[intent.order_type] if tif == "cls" else kind.wire
    trailing_amount = trailing_type = None
    if kind.trailing:
        if intent.trail_percent is not None:
            trailing_amount, trailing_type = intent.trail_percent, "%"
        else:
            trailing_amount, trailing_type = intent.trail_amount, "amt"

    if sec_type == "CASH":
        conid_out, conidex, exchange = None, f"{conid}@{FX_EXCHANGE}", None
    else:
        exchange = contract.get("exchange")
        conid_out, conidex = conid, None
        if not isinstance(exchange, str) or not exchange:
            exchange = None
    account = intent.account_id or options.account_id
    return CPAPIOrder(
        client_order_id=intent.client_order_id,
        order_type=order_type,
        side=side,
        quantity=quantity,
        tif=TIFS[tif].wire,
        outside_rth=intent.extended_hours,
        sec_type=f"{conid}:{sec_type}",
        conid=conid_out,
        conidex=conidex,
        account_id=account,
        listing_exchange=exchange,
        price=price,
        aux_price=aux,
        trailing_amount=trailing_amount,
        trailing_type=trailing_type,
        manual_indicator=manual,
        ext_operator=operator,
    )


def translate_order(
    order: Mapping[str, Any], contract: Mapping[str, Any], options: TranslateOptions | None = None
) -> dict[str, Any]:
    """Host order dict + resolved contract -> one element of the CPAPI ``orders`` array."""
    if options is None:
        options = options_from_env()
    # intent_from_host validated the contract; _payload skips payload_from_intent's re-check of it.
    payload: dict[str, Any] = _unstructure_order(
        _payload(intent_from_host(order, contract), contract, options)
    )
    return payload


# --------------------------------------------------------------------------------------------
# CPAPI payload -> OrderIntent (round trips, re-reading an order log)


def _structure_payload(payload: Any) -> CPAPIOrder:
    if not f.is_mapping(payload):
        f.fail("payload", f"expected an order object, got {type(payload).__name__}")
    try:
        order: CPAPIOrder = _structure_order(payload)
    except Exception as exc:
        try:
            details = "; ".join(cattrs.transform_error(exc, path="payload"))
        except Exception:
            details = str(exc)
        raise OrderValidationError("payload", details or "not a CPAPI order") from exc
    return order


def intent_from_payload(payload: Mapping[str, Any], contract: Mapping[str, Any]) -> OrderIntent:
    """Read a CPAPI order (as :func:`translate_order` writes it) back into an intent.

    The payload is checked against the contract (``conid``/``conidex``, ``secType``) and then goes
    through the same validation as a host order. Bracket children (``parentId``) are refused.
    """
    wire = _structure_payload(payload)
    conid, sec_type = _contract_identity(contract)
    if sec_type == "CASH":
        if wire.conid is not None or wire.conidex != f"{conid}@{FX_EXCHANGE}":
            f.fail("payload.conidex", f"a CASH order goes to {conid}@{FX_EXCHANGE} through conidex only")
    elif wire.conidex is not None or wire.conid != conid:
        f.fail("payload.conid", f"expected conid {conid} (and no conidex), got {wire.conid!r}")
    if wire.sec_type != f"{conid}:{sec_type}":
        f.fail("payload.secType", f"expected {conid}:{sec_type}, got {wire.sec_type!r:.40}")
    if wire.parent_id is not None:
        f.fail("payload.parentId", "bracket children are not read back as single orders")

    order_type = _WIRE_ORDER_TYPES.get(wire.order_type)
    tif = WIRE_TIFS.get(wire.tif)
    if order_type is None and wire.order_type in _WIRE_CLOSE_TYPES and wire.tif == "DAY":
        order_type, tif = _WIRE_CLOSE_TYPES[wire.order_type], "cls"
    if order_type is None:
        f.fail("payload.orderType", f"unknown order type {wire.order_type!r:.40}")
    if tif is None:
        f.fail("payload.tif", f"unknown time in force {wire.tif!r:.40}")
    side = _WIRE_SIDES.get(wire.side.upper())
    if side is None:
        f.fail("payload.side", f"expected BUY or SELL, got {wire.side!r:.40}")
    kind = ORDER_TYPES[order_type]
    host: dict[str, Any] = {
        "side": side,
        "qty": wire.quantity,
        "order_type": order_type,
        "time_in_force": tif,
        "extended_hours": wire.outside_rth,
        "client_order_id": wire.client_order_id,
        "account_id": wire.account_id,
    }
    if kind.limit:
        host["limit_price"], host["stop_price"] = wire.price, wire.aux_price
    else:
        host["stop_price"] = wire.price
        if wire.aux_price is not None:
            f.fail("payload.auxPrice", f"is not used by a {wire.order_type} order")
    if kind.trailing:
        if wire.trailing_type not in ("amt", "%"):
            f.fail("payload.trailingType", f"expected 'amt' or '%', got {wire.trailing_type!r:.40}")
        host["trail_amount" if wire.trailing_type == "amt" else "trail_percent"] = wire.trailing_amount
    elif wire.trailing_amount is not None or wire.trailing_type is not None:
        f.fail("payload.trailingAmt", f"is not used by a {wire.order_type} order")
    return intent_from_host(host, contract)
