"""The one validator and the one payload writer behind every translation entry point.

:func:`check_host` validates a host order dict against its contract and returns the clean values
as a plain tuple (:data:`Checked`); :func:`write_payload` applies the account settings and the
tick grid and returns the CPAPI order dict. ``translate_order`` is these two calls;
``intent_from_host`` wraps :func:`check_host` in an ``OrderIntent`` and ``payload_from_intent``
wraps :func:`write_payload` in a ``CPAPIOrder``, so the structured API and the fast path cannot
disagree: they are the same code.

Written for the host's order path (``bench/translate.py``; the targets are >= 100,000 orders/s
and <= 5x a dict literal of the payload): no attrs objects and no cattrs here, the accepted
(security type, order type, TIF) combinations are one lookup in
:data:`~axion_broker_ibkr.orders.plan.PLANS`, and the common value types (``float`` prices,
``int`` quantities, lower-case words) are accepted with inline comparisons; anything else goes
through the field readers of :mod:`.fields`, which accept the other spellings or raise the
field-naming error. Checks run in a fixed order (the original translator's), so an order with
several faults always names the same field.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from ..errors import UnsupportedAssetError
from ..wire.convert import order_ticket
from . import fields as f
from .model import TranslateOptions
from .plan import PLANS, Plan, check_order_type, explain_refusal
from .prices import contract_grid, first_tick, round_to_grid
from .rules import (
    ASSET_TO_SEC_TYPE,
    FX_EXCHANGE,
    MAX_CLIENT_ORDER_ID,
    MAX_PRICE,
    ORDER_TYPES,
    OUTSIDE_RTH_ORDER_TYPES,
    REFUSED_ASSETS,
    REFUSED_TIFS,
    SEC_TYPES,
    SIDES,
    TIFS,
)

_KNOWN_TIFS = {**TIFS, **REFUSED_TIFS}
_COID_CHARS = f.CLIENT_ORDER_ID_CHARS

#: ``check_host``'s result: plan, conid, sec_type, side, quantity, order_type, time_in_force,
#: client_order_id, limit, stop, trail_amount, trail_percent, extended_hours, account_id
#: (host words; ``quantity`` is an ``int`` or a ``float``; absent prices are ``None``).
Checked = tuple[
    Plan, int, str, str, float, str, str, str,
    float | None, float | None, float | None, float | None, bool, str | None,
]  # fmt: skip


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


def contract_identity(contract: Any) -> tuple[int, str]:
    """The contract's conid and secType, checked."""
    if type(contract) is not dict and not f.is_mapping(contract):
        f.fail("contract", f"expected a contract dict, got {type(contract).__name__}")
    conid = contract.get("conid")
    if type(conid) is not int or conid <= 0:
        conid = f.conid(conid, "contract.conid")
    sec_type = contract.get("sec_type")
    if type(sec_type) is not str or sec_type not in SEC_TYPES:
        f.fail("contract.sec_type", f"expected one of {', '.join(sorted(SEC_TYPES))}, got {sec_type!r:.40}")
    return conid, sec_type


def _check_asset(asset_type: Any, sec_type: str) -> None:
    if asset_type_to_sec_type(asset_type) != sec_type:
        f.fail("asset_type", f"{asset_type!r} does not match the contract's security type {sec_type}")


#: (symbol, contract symbol, currency, local symbol) found to match (bounded: cleared when full).
_SYMBOL_MATCHES: set[tuple[Any, ...]] = set()
_TEXT_OR_NONE = frozenset({str, type(None)})
_PLAIN_NUMBERS = frozenset({int, float})


def _check_symbol(symbol: Any, contract: Mapping[str, Any]) -> None:
    """A symbol in the order must name the contract (``EUR.USD`` matches symbol EUR + currency USD)."""
    if not isinstance(symbol, str) or not symbol.strip():
        f.fail("symbol", f"expected text, got {symbol!r:.40}")
    own = contract.get("symbol")
    if symbol == own:
        return
    currency, local = contract.get("currency"), contract.get("local_symbol")
    memo = (symbol, own, currency, local)
    text = type(own) is str and type(currency) in _TEXT_OR_NONE and type(local) in _TEXT_OR_NONE
    if text and memo in _SYMBOL_MATCHES:
        return
    key = f.symbol_key(symbol)
    own_key = f.symbol_key(own) if isinstance(own, str) else None
    if (
        key == own_key
        or (own_key is not None and isinstance(currency, str) and key == own_key + f.symbol_key(currency))
        or (isinstance(local, str) and f.symbol_key(local) == key)
    ):
        if text:
            if len(_SYMBOL_MATCHES) >= 4096:
                _SYMBOL_MATCHES.clear()
            _SYMBOL_MATCHES.add(memo)
        return
    f.fail("symbol", f"{symbol!r:.40} does not match the contract ({own!r})")


def _right(value: Any, field: str) -> str:
    """``f.right`` with the usual spellings looked up directly."""
    result = f.RIGHTS_AS_SPELLED.get(value) if type(value) is str else None
    return f.right(value, field) if result is None else result


def _expiry(value: Any, field: str) -> str:
    """``f.expiry`` with the dates already seen looked up directly."""
    result = f.DAYS.get(value) if type(value) is str else None
    return f.expiry(value, field) if result is None else result


def _check_option(order: Mapping[str, Any], contract: Mapping[str, Any]) -> None:
    """An option contract must carry strike/right/expiry; any the order gives must agree."""
    get = contract.get
    strike = get("strike")
    if not (type(strike) is float and 0.0 < strike <= MAX_PRICE):
        strike = f.positive(strike, "contract.strike", MAX_PRICE)
    right = _right(get("right"), "contract.right")
    expiry = _expiry(get("expiry"), "contract.expiry")
    field, value = f.pick(order, "option_type", "right")
    if value is not None and _right(value, field) != right:
        f.fail(field, f"{value!r} does not match the contract's right {right!r}")
    value = order.get("strike")
    if (
        value is not None
        and not (type(value) in _PLAIN_NUMBERS and value == strike)
        and abs(f.positive(value, "strike", MAX_PRICE) - strike) > 1e-9 * strike
    ):
        f.fail("strike", f"{value!r} does not match the contract's strike {strike!r}")
    field, value = f.pick(order, "expiration", "expiry")
    if value is not None and _expiry(value, field) != expiry:
        f.fail(field, f"{value!r} does not match the contract's expiry {expiry!r}")


#: ``tif_types`` entries already read: entry -> (TIF code, allowed order-type words or None = all).
_TIF_ENTRIES: dict[str, tuple[str, frozenset[str] | None]] = {}


def _tif_entry(entry: str) -> tuple[str, frozenset[str] | None]:
    """``"IOC/MARKET,LIMIT,...,a"`` -> ``("IOC", {"MARKET", "LIMIT", ...})``; ``"DAY/o,a"`` -> all.

    ``o`` is read as "every order type" and ``a`` as "algos too" (REFERENCE §3.1 marks both
    [unconfirmed]); an entry without ``/`` allows every order type."""
    known = _TIF_ENTRIES.get(entry)
    if known is None:
        code, _, rest = entry.partition("/")
        words = {w.strip().upper().replace("_", "") for w in rest.split(",") if w.strip()}
        allowed = None if not rest or "O" in words else frozenset(words - {"A"})
        known = code.strip().upper(), allowed
        if len(_TIF_ENTRIES) < 1024:
            _TIF_ENTRIES[entry] = known
    return known


def _word_list(value: Any, field: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        f.fail(field, f"expected a list of words, got {type(value).__name__}")
    return [str(v) for v in value]


def _lower_words(value: Any, field: str) -> set[str]:
    return {w.lower() for w in _word_list(value, field)}


def _check_listed(word: str, listed: set[str], field: str, message: str) -> None:
    """Fail ``field`` with ``message`` unless ``word`` is one of the contract's ``listed`` words."""
    if word not in listed:
        f.fail(field, message)


def check_contract_rules(
    contract: Mapping[str, Any],
    order_type: str,
    tif: str,
    wire_type: str,
    wire_tif: str,
    extended: bool,
    quantity: float,
    quantity_field: str,
) -> None:
    """The order against the contract's own rules (``/iserver/contract/rules``) when it carries them:
    its order types, the order types it fills outside regular hours, its TIFs and its size increment.

    IBKR names order types in lower-case words (``limit``, ``stop_limit``, ``trailing_stop``,
    ``midprice``), which are the host's words. Without rules the static table (``orders/rules.py``)
    alone decides."""
    word = order_type
    listed = contract.get("order_types")
    if listed:
        types = _lower_words(listed, "contract.order_types")
        _check_listed(
            word, types, "order_type",
            f"{word} is not an order type of this contract "
            f"(IBKR's contract rules list {', '.join(sorted(types))})",
        )  # fmt: skip
    outside = contract.get("order_types_outside")
    if extended and outside is not None:
        allowed = _lower_words(outside, "contract.order_types_outside")
        _check_listed(
            word, allowed, "extended_hours",
            "IBKR's contract rules let this contract fill outside regular hours only for "
            f"{', '.join(sorted(allowed)) or 'no order type'}, not {word}",
        )  # fmt: skip
    tifs = contract.get("tif_types")
    if tifs:
        entries = dict(_tif_entry(e) for e in _word_list(tifs, "contract.tif_types"))
        if wire_tif not in entries:
            f.fail(
                "time_in_force",
                f"{tif} ({wire_tif}) is not a time in force of this contract (IBKR's contract rules "
                f"list {', '.join(sorted(entries))})",
            )
        kinds = entries[wire_tif]
        if kinds is not None and not {word.upper().replace("_", ""), wire_type} & kinds:
            f.fail(
                "time_in_force",
                f"IBKR's contract rules take {wire_tif} only for {', '.join(sorted(kinds))}, not {word}",
            )
    step = contract.get("size_increment")
    if step is not None and step != 1:
        increment = f.positive(step, "contract.size_increment", 1e12)
        ratio = float(quantity) / increment
        if abs(ratio - round(ratio)) > 1e-9 * max(1.0, ratio):
            low = max(1, int(ratio)) * increment
            f.fail(
                quantity_field,
                f"{quantity!r} is not a multiple of the contract's size increment {increment:g} "
                f"(e.g. {low:g} or {low + increment:g}); nothing is rounded",
            )
    elif step == 1 and type(quantity) is float and not quantity.is_integer():
        f.fail(quantity_field, f"{quantity!r} is not a whole number; the contract's size increment is 1")


def check_host(order: Mapping[str, Any], contract: Mapping[str, Any]) -> Checked:
    """Validate a host order dict (HOST_CONTRACT §4) against its resolved contract; no I/O."""
    if type(order) is not dict and not f.is_mapping(order):
        f.fail("order", f"expected an order dict, got {type(order).__name__}")
    if not f.KNOWN_ORDER_KEYS.issuperset(order):
        f.check_order_keys(order)  # refuses group keys and likely typos; the rest is never read
    # contract_identity(contract): a well-formed dict passes inline (this is the hot path); anything
    # else takes the checks (and their errors) there.
    conid = sec_type = None
    if type(contract) is dict:
        conid, sec_type = contract.get("conid"), contract.get("sec_type")
    if type(conid) is not int or conid <= 0 or type(sec_type) is not str or sec_type not in SEC_TYPES:
        conid, sec_type = contract_identity(contract)
    get = order.get
    asset_type = get("asset_type")
    if asset_type is not None and (
        type(asset_type) is not str or ASSET_TO_SEC_TYPE.get(asset_type) != sec_type
    ):
        _check_asset(asset_type, sec_type)

    side = get("side")
    if type(side) is not str or side not in SIDES:
        side = f.word(side, "side", SIDES)
    order_type = get("order_type")
    if type(order_type) is not str or order_type not in ORDER_TYPES:
        order_type = f.word(order_type, "order_type", ORDER_TYPES)
    tif = get("time_in_force")
    if tif is None:
        tif = "day"
    elif type(tif) is not str or tif not in TIFS:
        check_order_type(sec_type, order_type)  # named first, as when the TIF is valid
        tif = f.word(tif, "time_in_force", _KNOWN_TIFS)
    plan = PLANS.get((sec_type, order_type, tif))
    if plan is None:
        explain_refusal(sec_type, order_type, tif)
    _, _, needs_limit, takes_stop, needs_stop, trailing, max_quantity, unit, whole, _, outside_rth = plan

    # Quantity: `qty` or its alias `quantity` (both given must agree), in (0, bound].
    field, value, alias = "qty", get("qty"), get("quantity")
    if value is None:
        field, value = "quantity", alias
        if value is None:
            f.fail("qty", "is required (qty or quantity)")
    elif alias is not None and alias != value:
        f.fail("qty", f"qty={value!r} and quantity={alias!r} disagree")
    quantity: float = value
    if not ((type(value) is int or type(value) is float) and 0 < value <= max_quantity):
        quantity = f.positive(value, field, max_quantity)
    if whole and type(quantity) is float and not quantity.is_integer():
        f.fail(field, f"{value!r} is not a whole number of {unit}; nothing is rounded")

    # Prices: plain floats in range pass inline; anything else through f.positive.
    field, limit, alias = "limit_price", get("limit_price"), get("price")
    if limit is None:
        field, limit = "price", alias
    elif alias is not None and alias != limit:
        f.fail("limit_price", f"limit_price={limit!r} and price={alias!r} disagree")
    if limit is not None and not (type(limit) is float and 0.0 < limit <= MAX_PRICE):
        limit = f.positive(limit, field, MAX_PRICE)
    if needs_limit:
        if limit is None:
            f.fail("limit_price", f"is required for a {order_type} order")
    elif limit is not None:
        f.fail(field, f"is not used by a {order_type} order; remove it")
    stop = get("stop_price")
    if stop is not None and not (type(stop) is float and 0.0 < stop <= MAX_PRICE):
        stop = f.positive(stop, "stop_price", MAX_PRICE)
    if stop is None:
        if needs_stop:
            f.fail("stop_price", f"is required for a {order_type} order")
    elif not takes_stop:
        f.fail("stop_price", f"is not used by a {order_type} order; remove it")
    trail_amount, trail_percent = get("trail_amount"), get("trail_percent")
    if trail_amount is not None:
        trail_amount = f.positive(trail_amount, "trail_amount", MAX_PRICE)
    if trail_percent is not None:
        trail_percent = f.positive(trail_percent, "trail_percent", 100.0)
    if trailing:
        if (trail_amount is None) == (trail_percent is None):
            f.fail("trail_amount", f"a {order_type} order needs exactly one of trail_amount, trail_percent")
        if trail_percent == 100.0:
            f.fail("trail_percent", "must be below 100")
    elif trail_amount is not None or trail_percent is not None:
        f.fail("trail_amount" if trail_amount is not None else "trail_percent", "is only for trailing orders")

    extended = get("extended_hours")
    if extended is None:
        extended = False
    elif extended is not False and (f.flag(extended, "extended_hours") and not outside_rth):
        f.fail(
            "extended_hours",
            f"a {order_type} order with time_in_force {tif} cannot fill outside regular hours "
            f"(IBKR takes {', '.join(sorted(OUTSIDE_RTH_ORDER_TYPES))} outside RTH)",
        )
    coid = get("client_order_id")
    if coid is None:
        coid = new_client_order_id()
    elif type(coid) is not str or not 0 < len(coid) <= MAX_CLIENT_ORDER_ID or coid.strip(_COID_CHARS):
        f.client_order_id(coid)  # raises, or accepts a str subclass
    account = get("account_id")
    if account is not None:
        account = f.account_id(account)
    symbol = get("symbol")
    if symbol is not None and (
        type(symbol) is not str or symbol != contract.get("symbol") or not symbol or symbol.isspace()
    ):
        _check_symbol(symbol, contract)
    if sec_type == "OPT":
        _check_option(order, contract)
    if contract.get("order_types") or contract.get("tif_types") or contract.get("size_increment"):
        qty_field = "qty" if get("qty") is not None else "quantity"
        check_contract_rules(contract, order_type, tif, plan[0], plan[1], extended, quantity, qty_field)
    return (
        plan, conid, sec_type, side, quantity, order_type, tif, coid,
        limit, stop, trail_amount, trail_percent, extended, account,
    )  # fmt: skip


def write_payload(checked: Checked, contract: Mapping[str, Any], options: TranslateOptions) -> dict[str, Any]:
    """The CPAPI order (REFERENCE §4.1) for checked values: account settings, tick grid, wire names.

    Keys in ``CPAPIOrder`` field order; fields without a value are not sent.
    """
    (
        plan, conid, sec_type, side, quantity, _, _, coid,
        limit, stop, trail_amount, trail_percent, extended, account,
    ) = checked  # fmt: skip
    wire_type, wire_tif, needs_limit, _, _, trailing, _, _, _, fractional_setting, _ = plan
    if type(quantity) is not int:
        given, quantity = quantity, float(quantity)  # a hand-built intent may hold any real
        if quantity.is_integer():
            quantity = int(quantity)  # JSON `100`, not `100.0`
        elif fractional_setting and not options.allow_fractional:
            f.fail(
                "qty",
                f"{given!r} is a fractional share quantity; fractional trading is off "
                "(set allow_fractional / AXION_IBKR_ALLOW_FRACTIONAL=true); nothing is rounded",
            )
    if sec_type == "FUT" and not options.futures_operator:
        f.fail(
            "futures_operator",
            "futures orders must carry extOperator (CME Rule 536-B): set futures_operator "
            "(AXION_IBKR_FUTURES_OPERATOR) to the operator responsible for the order",
        )
    wire_side = SIDES[side]
    grid = contract_grid(contract)  # checked for every order, priced or not
    if wire_side == "SELL" and contract.get("sell_increment_rules"):
        grid = contract_grid(contract, "sell_increment_rules")  # IBKR answered a sell another grid
    if grid is not None:
        down = wire_side == "BUY"
        lowest = first_tick(grid) * (1.0 - 1e-9)
        if limit is not None:
            asked, limit = limit, round_to_grid(limit, grid, down)
            if limit <= 0.0 or asked < lowest:
                f.fail("limit_price", f"{asked!r} is below one tick of the contract ({first_tick(grid):g})")
        if stop is not None:
            asked, stop = stop, round_to_grid(stop, grid, down)
            if stop <= 0.0 or asked < lowest:
                f.fail("stop_price", f"{asked!r} is below one tick of the contract ({first_tick(grid):g})")

    price = aux_price = trail_type = None
    if needs_limit:  # price = the limit, auxPrice = the stop trigger
        price, aux_price = limit, stop
    elif stop is not None:  # price = the stop trigger
        price = stop
    if trailing:
        if trail_percent is not None:
            trail_amount, trail_type = trail_percent, "%"
        else:
            trail_type = "amt"
    cash = sec_type == "CASH"
    exchange = None if cash else contract.get("exchange")
    futures = sec_type == "FUT"
    return order_ticket(
        coid, wire_type, wire_side, quantity, wire_tif, extended, sec_type, conid,
        conidex=f"{conid}@{FX_EXCHANGE}" if cash else None,
        account_id=account or options.account_id,
        listing_exchange=exchange if isinstance(exchange, str) else None,
        price=price, aux_price=aux_price, trailing_amount=trail_amount, trailing_type=trail_type,
        futures=futures,
        manual_indicator=options.manual_orders if futures else None,
        ext_operator=options.futures_operator if futures else None,
    )  # fmt: skip
