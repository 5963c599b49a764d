"""Every accepted (security type, order type, time in force) combination, precomputed from :mod:`.rules`.

Nothing here is a rule of its own: :data:`PLANS` is built once at import from the tables in
:mod:`axion_broker_ibkr.orders.rules`, so that the translator checks a combination with one dict
lookup and then finds everything it needs to write the order (wire codes, which price fields are
used, quantity unit and bound) in one tuple. A combination that is missing is explained, field by
field and in the order the checks are documented, by :func:`explain_refusal`.
"""

from __future__ import annotations

from typing import Final, NamedTuple, NoReturn

from .fields import fail
from .rules import (
    AUCTION_TIFS,
    ORDER_TYPES,
    ORDER_TYPES_BY_SEC_TYPE,
    OUTSIDE_RTH_ORDER_TYPES,
    QUANTITIES,
    REFUSED_TIFS,
    SEC_TYPES,
    TIFS,
)


class Plan(NamedTuple):
    """How an order of one accepted combination is checked and written."""

    #: ``orderType`` on the wire.
    wire_type: str
    #: ``tif`` on the wire.
    wire_tif: str
    #: A limit price is required (and then goes in ``price``).
    limit: bool
    #: A stop trigger may be given (``price`` without a limit, else ``auxPrice``).
    stop: bool
    stop_required: bool
    trailing: bool
    #: Quantity sanity bound, unit, and whether it must be whole whatever the account settings.
    max_quantity: float
    unit: str
    whole: bool
    #: A fractional quantity needs ``allow_fractional`` (shares).
    fractional_setting: bool
    #: ``extended_hours`` (``outsideRTH``) may be set.
    outside_rth: bool


def _plan(sec_type: str, order_type: str, tif: str) -> Plan:
    kind = ORDER_TYPES[order_type]
    quantity = QUANTITIES[sec_type]
    return Plan(
        wire_type=kind.wire,
        wire_tif=TIFS[tif].wire,
        limit=kind.limit,
        stop=kind.stop,
        stop_required=kind.stop_required,
        trailing=kind.trailing,
        max_quantity=quantity.maximum,
        unit=quantity.unit,
        whole=quantity.whole and not quantity.fractional_setting,
        fractional_setting=quantity.fractional_setting,
        outside_rth=order_type in OUTSIDE_RTH_ORDER_TYPES and tif not in AUCTION_TIFS,
    )


#: ``(sec_type, host order type, host tif)`` -> plan, for every combination the rules accept.
PLANS: Final[dict[tuple[str, str, str], Plan]] = {
    (sec_type, order_type, tif): _plan(sec_type, order_type, tif)
    for sec_type in sorted(SEC_TYPES)
    for order_type in ORDER_TYPES_BY_SEC_TYPE[sec_type]
    for tif, rule in TIFS.items()
    if sec_type in rule.sec_types and order_type in rule.order_types
}


def check_order_type(sec_type: str, order_type: str) -> None:
    """Refuse an order type the security type does not take (both words already known)."""
    if order_type not in ORDER_TYPES_BY_SEC_TYPE[sec_type]:
        allowed = ", ".join(sorted(ORDER_TYPES_BY_SEC_TYPE[sec_type]))
        fail("order_type", f"{order_type} is not taken for {sec_type} (allowed: {allowed})")


def explain_refusal(sec_type: str, order_type: str, tif: str) -> NoReturn:
    """Raise the error for a combination missing from :data:`PLANS` (words already known)."""
    check_order_type(sec_type, order_type)
    if tif not in TIFS:
        fail("time_in_force", REFUSED_TIFS[tif])
    fail("time_in_force", f"{tif} is not taken for a {sec_type} {order_type} order")
