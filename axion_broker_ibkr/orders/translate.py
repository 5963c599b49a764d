"""Host order dict + resolved contract -> one CPAPI order (pure, no I/O).

``translate_order`` is the host's path: :func:`~.core.check_host` validates the host's dict against
the contract (order type, TIF and price fields per security type, quantity units, option
strike/right/expiry) and :func:`~.core.write_payload` applies the account settings (fractional
shares, CME Rule 536-B fields for futures) and the contract's tick grid and writes the wire dict,
with no model objects in between. The structured API wraps the same two functions:
``intent_from_host`` returns an :class:`OrderIntent`, ``payload_from_intent`` a :class:`CPAPIOrder`,
``intent_from_payload`` reads a wire order back. Every refusal is an
:class:`~axion_broker_ibkr.errors.OrderValidationError` (a ``ValueError``) naming the field; no
payload exists until every check has passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cattrs

from ..errors import OrderValidationError
from ..wire import convert
from . import fields as f
from .model import CPAPIOrder, OrderIntent, TranslateOptions, options_from_env
from .plan import PLANS
from .rules import FX_EXCHANGE, ORDER_TYPES, SIDES, WIRE_TIFS
from .writer import asset_type_to_sec_type, check_host, contract_identity, new_client_order_id, write_payload

__all__ = [
    "asset_type_to_sec_type",
    "intent_from_host",
    "intent_from_payload",
    "new_client_order_id",
    "payload_from_intent",
    "translate_order",
]

_unstructure_order, _structure_order = convert.register_sending_model(
    CPAPIOrder, convert.CPAPI_ORDER_WIRE_NAMES
)
_PYTHON_NAMES = {wire: name for name, wire in convert.CPAPI_ORDER_WIRE_NAMES.items()}

_WIRE_ORDER_TYPES = {rule.wire: name for name, rule in ORDER_TYPES.items()}
_WIRE_SIDES = {"BUY": "buy", "SELL": "sell"}


def translate_order(
    order: Mapping[str, Any], contract: Mapping[str, Any], options: TranslateOptions | None = None
) -> dict[str, Any]:
    """Host order dict + resolved contract -> one element of the CPAPI ``orders`` array.

    ``options=None`` (the host's hook) reads the ``AXION_IBKR_*`` environment (:func:`options_from_env`).
    """
    if options is None:
        options = options_from_env()
    return write_payload(check_host(order, contract), contract, options)


def intent_from_host(order: Mapping[str, Any], contract: Mapping[str, Any]) -> OrderIntent:
    """Validate a host order dict (HOST_CONTRACT §4) against its resolved contract; no I/O."""
    (
        _, conid, sec_type, side, quantity, order_type, tif, coid,
        limit, stop, trail_amount, trail_percent, extended, account,
    ) = check_host(order, contract)  # fmt: skip
    return OrderIntent(
        conid=conid,
        sec_type=sec_type,
        side=side,
        quantity=float(quantity),
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


def payload_from_intent(
    intent: OrderIntent, contract: Mapping[str, Any], options: TranslateOptions | None = None
) -> CPAPIOrder:
    """Build the CPAPI order (REFERENCE §4.1) for an intent from :func:`intent_from_host` or
    :func:`intent_from_payload` (a hand-built intent skips their checks); pure.

    ``options=None`` reads the ``AXION_IBKR_*`` environment (:meth:`TranslateOptions.from_env`).
    """
    if options is None:
        options = options_from_env()
    conid, sec_type = contract_identity(contract)
    if conid != intent.conid or sec_type != intent.sec_type:
        f.fail(
            "contract.conid", f"the intent is for {intent.conid}:{intent.sec_type}, not {conid}:{sec_type}"
        )
    plan = PLANS.get((sec_type, intent.order_type, intent.time_in_force))
    if plan is None or intent.side not in SIDES:
        f.fail("intent", f"not a validated intent: {intent!r:.200}")
    checked = (
        plan, conid, sec_type, intent.side, intent.quantity, intent.order_type, intent.time_in_force,
        intent.client_order_id, intent.limit_price, intent.stop_price, intent.trail_amount,
        intent.trail_percent, intent.extended_hours, intent.account_id,
    )  # fmt: skip
    wire = write_payload(checked, contract, options)
    return CPAPIOrder(**{_PYTHON_NAMES[key]: value for key, value in wire.items()})


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
    conid, sec_type = contract_identity(contract)
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
