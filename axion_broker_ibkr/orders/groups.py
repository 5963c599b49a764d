"""Order groups: a bracket, an OCO set or an OTO pair -> the whole CPAPI ``orders`` array (pure, no I/O).

Host dicts (HOST_CONTRACT §4, group keys):

* **bracket**: an entry order with ``take_profit`` (``{"limit_price": ...}``) and/or ``stop_loss``
  (``{"stop_price": ...}``; with ``limit_price`` a stop-limit; with ``trail_amount`` / ``trail_percent``
  a trailing stop, ``stop_price`` then optional, with ``limit_price`` a trailing stop-limit);
* **OCO**: ``{"oco": [order, order, ...], "client_order_id": ...}`` (one-cancels-other, >= 2 orders);
* **OTO**: an entry with ``then: [order]`` (the order is sent once the entry fills).

Every leg goes through the single-order validator and payload writer (:func:`.core.check_host`,
:func:`.core.write_payload`: order types, TIFs, tick grids and contract rules per leg), then the group
rules are checked on the host prices *and again on the tick-rounded wire prices*: exits are on the
other side of the entry, the stop-loss on the losing side of the entry's price, the take-profit on the
winning side, the stop below (buy entry) / above (sell entry) the take-profit, exit quantities equal to
the entry's, OCO quantities equal. A refusal is an :class:`~axion_broker_ibkr.errors.OrderValidationError`
naming the leg and field (``stop_loss.stop_price``, ``oco[1].limit_price``); no payload exists until
every leg has passed.

Wire shape (REFERENCE §4.1/§4.10, ``examples/order_request_bracket.json``): parent first with its
``cOID``; bracket / OTO children carry ``parentId`` = the parent's ``cOID`` and **no** ``cOID`` of their
own; an OCO set marks every order ``isSingleGroup: true`` and each order has its own ``cOID``.

Children's ``cOID`` -- a conflict settled from evidence: issue 15 asks that "every leg has its own cOID
derived from the group's", REFERENCE §4.1 says "Do not set on bracket children". IBKR's own OpenAPI
spec (``OrderRequest.cOID``: "Please do not set this value for child orders when placing a bracket
order"; the ``orders`` body: "Children orders will not have its own cOID ... they will have a parentId
which must be equal to cOID of parent"), IBKR Campus' "How to code a bracket order in the Web API" ("A
single customer order Id (cOID) is sent with the parent and the same value is specified in parentId for
the child order(s)") and ibind's bracket example (``coid`` on the parent only, ``parent_id`` on the
children) agree with the reference, so children are sent without ``cOID``. Each
leg still has a derived id (``<group>.tp``, ``<group>.sl``, ``<group>.t1``, ``<group>.o1`` ...) in
:class:`GroupLeg` and the order log; the client matches children to their answers by position (the
answer has one element per order, REFERENCE §4.2). The simulator accepts a child ``cOID`` too (tolerant
of both readings).

Two IBKR behaviours shape what is accepted: every child of a parent is a sibling that IBKR cancels
with the others (OpenAPI: "when you cancel one child order, it will also cancel its sibling order"),
so an OTO takes exactly one ``then`` order (two would be an OCO pair in disguise); and a group is for
one contract (the translate hook receives one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import define

from ..errors import OrderValidationError
from ..wire import convert
from . import fields as f
from .model import TranslateOptions, options_from_env
from .rules import MAX_CLIENT_ORDER_ID, SIDES
from .writer import check_host, new_client_order_id, write_payload

#: Wire names from the wire layer (convert): the client order id and order type keys.
_COID = convert.WIRE_CLIENT_ORDER_ID
_TYPE = convert.CPAPI_ORDER_WIRE_NAMES["order_type"]

__all__ = ["GROUP_KEYS", "GroupLeg", "OrderGroup", "is_group", "regroup", "translate_group"]

#: The keys that make a host order dict a group (also in :data:`.fields.GROUP_ORDER_KEYS`).
GROUP_KEYS = f.GROUP_ORDER_KEYS

_TAKE_PROFIT_KEYS = frozenset(
    {"limit_price", "price", "time_in_force", "extended_hours", "qty", "quantity", "side"}
)
_STOP_LOSS_KEYS = _TAKE_PROFIT_KEYS | {"stop_price", "trail_amount", "trail_percent"}
#: Leg-id suffixes; the longest is 4 characters (``.o12``), so a group id leaves room for them.
_SUFFIX_ROOM = 4
_EXIT_TIFS = frozenset({"day", "gtc"})


@define(frozen=True, kw_only=True)
class GroupLeg:
    """One order of a group: its role, its derived id, the host field it came from, its CPAPI order.

    ``client_order_id`` is the leg's own id (the log's key); it is on the wire (``payload[_COID]``)
    for the parent and for OCO orders, not for bracket/OTO children (see the module docstring)."""

    role: str  # "entry", "take_profit", "stop_loss", "then", "oco"
    field: str  # "entry", "take_profit", "stop_loss", "then[0]", "oco[1]"
    client_order_id: str
    payload: dict[str, Any]

    @property
    def parent_id(self) -> str | None:
        value = self.payload.get("parentId")
        return value if isinstance(value, str) else None


@define(frozen=True, kw_only=True)
class OrderGroup:
    """A translated group: ``kind`` is ``bracket``, ``oco`` or ``oto``; ``legs`` parent first."""

    kind: str
    group_id: str
    legs: tuple[GroupLeg, ...]

    def payloads(self) -> list[dict[str, Any]]:
        """The CPAPI ``orders`` array, in leg order (one POST)."""
        return [leg.payload for leg in self.legs]


def is_group(order: Any) -> bool:
    """Whether a host order dict is a group (carries ``take_profit``, ``stop_loss``, ``oco`` or ``then``)."""
    return f.is_mapping(order) and not GROUP_KEYS.isdisjoint(order)


def _in_leg(field: str, exc: OrderValidationError) -> OrderValidationError:
    return OrderValidationError(f"{field}.{exc.field}", exc.reason)


def _leg(
    field: str, host: Mapping[str, Any], contract: Mapping[str, Any], options: TranslateOptions
) -> tuple[Any, dict[str, Any]]:
    """One leg through the single-order validator and writer; errors are renamed into the leg."""
    try:
        checked = check_host(host, contract)
        return checked, write_payload(checked, contract, options)
    except OrderValidationError as exc:
        if field == "entry":
            raise
        raise _in_leg(field, exc) from exc


def _group_id(value: Any, field: str) -> str:
    if value is None:
        return new_client_order_id()
    try:
        coid = f.client_order_id(value)
    except OrderValidationError as exc:
        raise OrderValidationError(field, exc.reason) from exc
    if len(coid) > MAX_CLIENT_ORDER_ID - _SUFFIX_ROOM:
        f.fail(
            field,
            f"a group's id may have at most {MAX_CLIENT_ORDER_ID - _SUFFIX_ROOM} characters (its legs' "
            f"ids add a suffix such as '.tp'), got {len(coid)}",
        )
    return coid


def _wire_prices(payload: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(limit, stop) as written on the wire (REFERENCE §4.1 ``price``/``auxPrice`` semantics)."""
    kind = payload[_TYPE]
    if kind in ("LMT", "MIDPRICE"):
        return payload.get("price"), None
    if kind in ("STP", "TRAIL"):
        return None, payload.get("price")
    if kind in ("STOP_LIMIT", "TRAILLMT"):
        return payload.get("price"), payload.get("auxPrice")
    return None, None


def _entry_reference(limit: float | None, stop: float | None) -> tuple[float | None, str]:
    """The entry's price the exits are judged against: its limit, else its stop trigger."""
    if limit is not None:
        return limit, "limit price"
    if stop is not None:
        return stop, "stop price"
    return None, ""


def _exit_host(
    field: str,
    spec: Any,
    allowed: frozenset[str],
    entry: Mapping[str, Any],
    checked: Any,
) -> dict[str, Any]:
    """An exit leg's host dict: the spec's prices, the entry's contract/quantity/account, the other side."""
    if not f.is_mapping(spec):
        f.fail(field, f"expected a dict such as {{'limit_price': ...}}, got {type(spec).__name__}")
    for key in spec:
        if key not in allowed:
            f.fail(f"{field}.{key}", f"is not a key of {field} (allowed: {', '.join(sorted(allowed))})")
    entry_side, quantity, tif, account = checked[3], checked[4], checked[6], checked[13]
    exit_wire = "SELL" if SIDES[entry_side] == "BUY" else "BUY"
    side = spec.get("side")
    if side is None:
        side = {"buy": "sell", "sell": "buy", "sell_short": "buy_to_cover", "buy_to_cover": "sell"}[
            entry_side
        ]
    elif not isinstance(side, str) or SIDES.get(side.strip().lower()) != exit_wire:
        f.fail(
            f"{field}.side",
            f"an exit of a {entry_side} entry must be a {exit_wire.lower()}, got {side!r:.40}",
        )
    for key in ("qty", "quantity"):
        given = spec.get(key)
        if given is not None and (isinstance(given, bool) or given != quantity):
            f.fail(f"{field}.{key}", f"must equal the entry's quantity {quantity!r}, got {given!r:.40}")
    host: dict[str, Any] = {"side": side, "qty": quantity}
    for key in ("limit_price", "price", "stop_price", "trail_amount", "trail_percent", "extended_hours"):
        if spec.get(key) is not None:
            host[key] = spec[key]
    host["time_in_force"] = spec.get("time_in_force") or (tif if tif in _EXIT_TIFS else "day")
    if account is not None:
        host["account_id"] = account
    has_limit = host.get("limit_price") is not None or host.get("price") is not None
    if allowed is _TAKE_PROFIT_KEYS:
        if not has_limit:
            f.fail(f"{field}.limit_price", "is required (the take-profit is a limit order)")
        host["order_type"] = "limit"
    else:
        trailing = host.get("trail_amount") is not None or host.get("trail_percent") is not None
        if not trailing and host.get("stop_price") is None:
            f.fail(f"{field}.stop_price", "is required (or trail_amount / trail_percent for a trailing stop)")
        if trailing:
            host["order_type"] = "trailing_stop_limit" if has_limit else "trailing_stop"
        else:
            host["order_type"] = "stop_limit" if has_limit else "stop"
    for key in ("symbol", "asset_type"):
        if entry.get(key) is not None:
            host[key] = entry[key]
    return host


def _check_sides(
    buy_entry: bool,
    reference: float | None,
    reference_name: str,
    take_profit: float | None,
    stop: float | None,
    stop_field: str,
    when: str,
) -> None:
    """The exits' prices against the entry's and each other (strict: equal prices are refused).

    ``sign`` turns both directions into one comparison: a buy entry wins above its price."""
    sign = 1.0 if buy_entry else -1.0
    word, up, down = ("buy", "above", "below") if buy_entry else ("sell", "below", "above")
    if reference is not None and take_profit is not None and sign * (take_profit - reference) <= 0:
        f.fail(
            "take_profit.limit_price",
            f"{take_profit!r}{when} must be {up} the entry's {reference_name} {reference!r} "
            f"(the winning side of a {word} entry)",
        )
    if reference is not None and stop is not None and sign * (reference - stop) <= 0:
        f.fail(
            stop_field,
            f"{stop!r}{when} must be {down} the entry's {reference_name} {reference!r} "
            f"(the losing side of a {word} entry)",
        )
    if take_profit is not None and stop is not None and sign * (take_profit - stop) <= 0:
        f.fail(
            stop_field,
            f"{stop!r}{when} must be {down} the take-profit's limit {take_profit!r} for a {word} entry",
        )


def _usable(value: Any) -> float | None:
    """A host price the side checks can compare: a positive finite int/float, else ``None``."""
    if type(value) in (int, float) and 0 < value < float("inf"):
        return float(value)
    return None


def _strip(order: Mapping[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k not in keys}


def _no_nested_group(order: Any, field: str) -> None:
    if f.is_mapping(order):
        for key in GROUP_KEYS:
            if key in order:
                f.fail(f"{field}.{key}", "a leg of a group cannot itself be a group")


def _bracket(order: Mapping[str, Any], contract: Mapping[str, Any], options: TranslateOptions) -> OrderGroup:
    tp_spec, sl_spec = order.get("take_profit"), order.get("stop_loss")
    if tp_spec is None and sl_spec is None:
        f.fail("take_profit", "a bracket needs take_profit and/or stop_loss (both are None)")
    group_id = _group_id(order.get("client_order_id"), "client_order_id")
    entry_host = _strip(order, GROUP_KEYS) | {"client_order_id": group_id}
    checked, entry_payload = _leg("entry", entry_host, contract, options)
    buy_entry = entry_payload["side"] == "BUY"
    host_ref, ref_name = _entry_reference(checked[8], checked[9])

    exits: list[tuple[str, str, dict[str, Any], Any]] = []
    for field, spec, allowed, suffix in (
        ("take_profit", tp_spec, _TAKE_PROFIT_KEYS, "tp"),
        ("stop_loss", sl_spec, _STOP_LOSS_KEYS, "sl"),
    ):
        if spec is None:
            continue
        host = _exit_host(field, spec, allowed, order, checked) | {"client_order_id": f"{group_id}.{suffix}"}
        exits.append((field, suffix, host, None))

    # Host prices first (the trader's numbers, in the trader's words) ...
    tp_host = next((h for fld, _, h, _ in exits if fld == "take_profit"), None)
    sl_host = next((h for fld, _, h, _ in exits if fld == "stop_loss"), None)
    tp_price = None if tp_host is None else tp_host.get("limit_price", tp_host.get("price"))
    sl_price = None if sl_host is None else sl_host.get("stop_price")
    # (a price that is not a positive number is left to the leg's own check, which names it)
    _check_sides(
        buy_entry, host_ref, ref_name, _usable(tp_price), _usable(sl_price), "stop_loss.stop_price", ""
    )

    legs = [GroupLeg(role="entry", field="entry", client_order_id=group_id, payload=entry_payload)]
    wire: dict[str, dict[str, Any]] = {}
    for field, _suffix, host, _ in exits:
        _, payload = _leg(field, host, contract, options)
        child_id = payload.pop(_COID)  # not on the wire for children (module docstring)
        payload["parentId"] = group_id
        wire[field] = payload
        legs.append(GroupLeg(role=field, field=field, client_order_id=child_id, payload=payload))

    # ... then the tick-rounded wire prices (a stop rounded onto the entry's price is refused too).
    entry_limit, entry_stop = _wire_prices(entry_payload)
    wire_ref, _ = _entry_reference(entry_limit, entry_stop)
    tp_wire = _wire_prices(wire["take_profit"])[0] if "take_profit" in wire else None
    sl_wire = _wire_prices(wire["stop_loss"])[1] if "stop_loss" in wire else None
    _check_sides(
        buy_entry, wire_ref, ref_name, tp_wire, sl_wire, "stop_loss.stop_price", " (on the tick grid)"
    )
    return OrderGroup(kind="bracket", group_id=group_id, legs=tuple(legs))


def _oto(order: Mapping[str, Any], contract: Mapping[str, Any], options: TranslateOptions) -> OrderGroup:
    for key in ("take_profit", "stop_loss", "oco"):
        if order.get(key) is not None:
            f.fail("then", f"cannot be combined with {key} (a bracket's exits are its children already)")
    then = order.get("then")
    if isinstance(then, Mapping):
        then = [then]
    if not isinstance(then, Sequence) or isinstance(then, (str, bytes)):
        f.fail("then", f"expected a list with one order dict, got {type(then).__name__}")
    if len(then) != 1:
        f.fail(
            "then",
            f"takes exactly one order, got {len(then)}: IBKR treats every child of a parent as a sibling "
            "cancelled with the others, so several would not be independent orders",
        )
    group_id = _group_id(order.get("client_order_id"), "client_order_id")
    entry_host = _strip(order, GROUP_KEYS) | {"client_order_id": group_id}
    _, entry_payload = _leg("entry", entry_host, contract, options)
    child = then[0]
    _no_nested_group(child, "then[0]")
    if not f.is_mapping(child):
        f.fail("then[0]", f"expected an order dict, got {type(child).__name__}")
    if child.get("client_order_id") is not None:
        f.fail("then[0].client_order_id", "a child's id is derived from the group's; remove it")
    _, payload = _leg("then[0]", {**child, "client_order_id": f"{group_id}.t1"}, contract, options)
    child_id = payload.pop(_COID)
    payload["parentId"] = group_id
    legs = (
        GroupLeg(role="entry", field="entry", client_order_id=group_id, payload=entry_payload),
        GroupLeg(role="then", field="then[0]", client_order_id=child_id, payload=payload),
    )
    return OrderGroup(kind="oto", group_id=group_id, legs=legs)


def _oco(order: Mapping[str, Any], contract: Mapping[str, Any], options: TranslateOptions) -> OrderGroup:
    for key in order:
        if key not in ("oco", "client_order_id", "mode"):
            f.fail(key, "an OCO group dict takes only 'oco' (its orders) and 'client_order_id'")
    members = order["oco"]
    if not isinstance(members, Sequence) or isinstance(members, (str, bytes)):
        f.fail("oco", f"expected a list of order dicts, got {type(members).__name__}")
    if not 2 <= len(members) <= 10:
        f.fail("oco", f"an OCO group takes 2 to 10 orders, got {len(members)}")
    group_id = _group_id(order.get("client_order_id"), "client_order_id")
    legs: list[GroupLeg] = []
    quantity: Any = None
    for index, member in enumerate(members):
        field = f"oco[{index}]"
        _no_nested_group(member, field)
        if not f.is_mapping(member):
            f.fail(field, f"expected an order dict, got {type(member).__name__}")
        own = member.get("client_order_id")
        coid = f"{group_id}.o{index + 1}" if own is None else own
        checked, payload = _leg(field, {**member, "client_order_id": coid}, contract, options)
        if quantity is None:
            quantity = checked[4]
        elif checked[4] != quantity:
            qty_field = "qty" if member.get("qty") is not None else "quantity"
            f.fail(
                f"{field}.{qty_field}", f"must equal the group's quantity {quantity!r}, got {checked[4]!r}"
            )
        if legs and payload.get("acctId") != legs[0].payload.get("acctId"):
            f.fail(
                f"{field}.account_id", "every order of an OCO group goes to one account (the first order's)"
            )
        payload["isSingleGroup"] = True
        legs.append(GroupLeg(role="oco", field=field, client_order_id=payload[_COID], payload=payload))
    ids = [leg.client_order_id for leg in legs]
    if len(set(ids)) != len(ids):
        f.fail("oco", "its orders' client_order_id values must differ")
    return OrderGroup(kind="oco", group_id=group_id, legs=tuple(legs))


def regroup(group: OrderGroup, group_id: str) -> OrderGroup:
    """The same group under a new id (the same ticket placed again after IBKR's question expired):
    every leg's id re-derived from ``group_id`` with its own suffix (``.tp``, ``.o2`` ...; an OCO
    order that had an id of its own gets ``.o<n>``), the wire ``cOID`` / ``parentId`` rewritten; the
    terms are untouched (they were validated when the group was translated)."""
    coid = _group_id(group_id, "client_order_id")
    legs: list[GroupLeg] = []
    for index, leg in enumerate(group.legs):
        old = leg.client_order_id
        if old == group.group_id and index == 0 and group.kind != "oco":
            new = coid
        elif old.startswith(f"{group.group_id}."):
            new = coid + old[len(group.group_id) :]
        else:
            new = f"{coid}.o{index + 1}"
        payload = dict(leg.payload)
        if _COID in payload:
            payload[_COID] = new
        if payload.get("parentId") is not None:
            payload["parentId"] = coid
        legs.append(GroupLeg(role=leg.role, field=leg.field, client_order_id=new, payload=payload))
    return OrderGroup(kind=group.kind, group_id=coid, legs=tuple(legs))


def translate_group(
    order: Mapping[str, Any], contract: Mapping[str, Any], options: TranslateOptions | None = None
) -> OrderGroup:
    """Host group dict + resolved contract -> an :class:`OrderGroup` (every leg validated); pure.

    ``options=None`` reads the ``AXION_IBKR_*`` environment, as :func:`.translate.translate_order`."""
    if not f.is_mapping(order):
        f.fail("order", f"expected an order dict, got {type(order).__name__}")
    if options is None:
        options = options_from_env()
    if "oco" in order:
        return _oco(order, contract, options)
    if "then" in order:
        return _oto(order, contract, options)
    if "take_profit" in order or "stop_loss" in order:
        return _bracket(order, contract, options)
    f.fail("order", "is not an order group (no take_profit, stop_loss, oco or then)")
