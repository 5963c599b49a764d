"""Field readers shared by the translator: each returns a clean value or raises a field-naming error.

Plain code on purpose (no per-call cattrs structuring): the translator runs in the host's order
path and is benchmarked at >= 100,000 orders/s (``bench/translate.py``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn, TypeGuard

from ..errors import OrderValidationError
from .rules import MAX_CLIENT_ORDER_ID

#: The characters of a ``cOID``: ``value.strip(CLIENT_ORDER_ID_CHARS)`` is empty when all are.
CLIENT_ORDER_ID_CHARS = string.ascii_letters + string.digits + "._:-"
_ACCOUNT_RE = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_RIGHTS = {"c": "C", "call": "C", "p": "P", "put": "P"}
#: Option rights as usually spelled, read without normalising (``right`` accepts any case).
RIGHTS_AS_SPELLED = {**_RIGHTS, **{key.upper(): value for key, value in _RIGHTS.items()}}
_SYMBOL_JUNK = str.maketrans("", "", "./-_ ")


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)`` with a fast path for plain dicts (the ABC check is slow)."""
    return type(value) is dict or isinstance(value, Mapping)


def fail(field: str, reason: str) -> NoReturn:
    """Raise the translator's one error type: the field, then why."""
    raise OrderValidationError(field, reason)


def number(value: Any, field: str) -> float:
    """A finite real number (``bool`` and numeric text are refused: the host sends numbers)."""
    kind = type(value)
    if kind is float:
        result: float = value
    elif kind is int or (isinstance(value, int | float | Decimal) and not isinstance(value, bool)):
        try:
            result = float(value)
        except (OverflowError, ValueError):  # 10**400; Decimal("sNaN")
            fail(field, f"{value!r:.40} is not a usable number")
    else:
        fail(field, f"expected a number, got {kind.__name__} {value!r:.40}")
    if not math.isfinite(result):
        fail(field, f"must be a finite number, got {value!r}")
    return result


def positive(value: Any, field: str, maximum: float) -> float:
    """A number in ``(0, maximum]``."""
    kind = type(value)
    if kind is float and 0.0 < value <= maximum:  # the common cases, without a call
        return value  # type: ignore[no-any-return]
    if kind is int and 0 < value <= maximum:
        return float(value)
    result = number(value, field)
    if result <= 0.0:
        fail(field, f"must be greater than 0, got {value!r}")
    if result > maximum:
        fail(field, f"{value!r} is above the sanity bound {maximum:g}")
    return result


def pick(order: Mapping[str, Any], key: str, alias: str) -> tuple[str, Any]:
    """The value of ``key`` or its ``alias`` (both host vocabularies); both given must agree."""
    value = order.get(key)
    other = order.get(alias)
    if value is None:
        return alias, other
    if other is not None and other != value:
        fail(key, f"{key}={value!r} and {alias}={other!r} disagree")
    return key, value


def word(value: Any, field: str, allowed: Mapping[str, Any]) -> str:
    """An enumeration word, case-insensitive; unknown words name the allowed ones."""
    if type(value) is str and value in allowed:
        return value
    if not isinstance(value, str):
        fail(field, f"expected text, got {type(value).__name__} {value!r:.40}")
    text = value.strip().lower()
    if text not in allowed:
        fail(field, f"unknown value {value!r:.40}; expected one of {', '.join(allowed)}")
    return text


def flag(value: Any, field: str) -> bool:
    """A boolean; ``None`` (not given) is ``False``."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    fail(field, f"expected true or false, got {type(value).__name__} {value!r:.40}")


def is_client_order_id(value: str) -> bool:
    """1-40 characters of letters, digits and ``-_.:`` (a strip, about half a regex match's cost)."""
    return 0 < len(value) <= MAX_CLIENT_ORDER_ID and not value.strip(CLIENT_ORDER_ID_CHARS)


def client_order_id(value: Any) -> str:
    if not isinstance(value, str):
        fail("client_order_id", f"expected text, got {type(value).__name__}")
    if not is_client_order_id(value):
        fail(
            "client_order_id",
            f"{value!r:.60} must be 1-{MAX_CLIENT_ORDER_ID} characters of letters, digits and -_.:",
        )
    return value


def account_id(value: Any, field: str = "account_id") -> str:
    if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
        # The value is not echoed: it may be an account id (masking, masking.py).
        fail(field, "must be an IBKR account id (letters, digits, -_.)")
    return value


def conid(value: Any, field: str) -> int:
    """A conid: a positive int, or its decimal text (conids arrive as text from secdef search)."""
    if type(value) is int and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and value[0] != "0":
        return int(value)
    fail(field, f"expected a positive integer conid, got {value!r:.40}")


def right(value: Any, field: str) -> str:
    """Option right: ``C``/``P`` from ``C``, ``P``, ``call``, ``put`` (any case)."""
    if isinstance(value, str):
        result = _RIGHTS.get(value.strip().lower())
        if result is not None:
            return result
    fail(field, f"expected call/put (C/P), got {value!r:.40}")


#: ``YYYYMMDD`` texts already found to be real dates (bounded: cleared when full).
DAYS: dict[str, str] = {}


def expiry(value: Any, field: str) -> str:
    """An expiry date as ``YYYYMMDD`` from ``YYYYMMDD``, ``YYYY-MM-DD`` or a date."""
    if type(value) is str:
        known = DAYS.get(value)
        if known is not None:
            return known
    if isinstance(value, dt.date):
        return value.strftime("%Y%m%d")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        text = value.strip().replace("-", "")
        if len(text) == 8 and text.isdigit():
            try:
                dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
            except ValueError:
                pass
            else:
                if type(value) is str:
                    if len(DAYS) >= 4096:
                        DAYS.clear()
                    DAYS[value] = text
                return text
    fail(field, f"expected a date YYYYMMDD, got {value!r:.40}")


def symbol_key(value: str) -> str:
    """Symbol comparison key: ``EUR.USD``, ``eur/usd`` and ``EURUSD`` compare equal."""
    return value.translate(_SYMBOL_JUNK).upper()


#: Every order-dict key the plugin reads: HOST_CONTRACT §4's order keys, the contract details the
#: adapter resolves with (``expiry``/``right`` spellings, bond ``issuer``/``maturity``/``coupon``),
#: and ``mode``, which the plugin's own results carry and callers echo back.
KNOWN_ORDER_KEYS: frozenset[str] = frozenset(
    {"symbol", "side", "qty", "quantity", "order_type", "limit_price", "price", "stop_price", "trail_amount",
     "trail_percent", "time_in_force", "extended_hours", "asset_type", "client_order_id", "account_id",
     "option_type", "strike", "expiration", "expiry", "right", "exchange", "currency", "issuer", "maturity",
     "coupon", "name", "mode"}
)  # fmt: skip

#: Keys that make an order dict a group (a bracket's ``take_profit`` / ``stop_loss``, ``oco``, OTO
#: ``then``): translated by :func:`axion_broker_ibkr.orders.groups.translate_group` and placed in one
#: POST; the single-order translator refuses them (sending the entry alone would lose its exits).
GROUP_ORDER_KEYS: frozenset[str] = frozenset({"take_profit", "stop_loss", "oco", "then"})

#: Keys that carry an order meaning the plugin does not implement (other spellings of groups, attached
#: trailing exits). An order carrying one is refused, never sent without it.
UNIMPLEMENTED_ORDER_KEYS: frozenset[str] = frozenset(
    {"trailing", "bracket", "legs", "children", "parent_id", "oca_group", "one_cancels_other", "exit",
     "exits", "attached", "order_class"}
)  # fmt: skip

#: Unknown key -> the known key it is likely a typo of ("" when none): bounded memo.
_TYPO: dict[str, str] = {}


def _edits(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap two neighbours),
    stopping early once it exceeds ``limit`` (returns ``limit + 1`` then)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] | None = None
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if before is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, row = row, current
    return row[-1]


def likely_typo(key: str) -> str:
    """The known order key ``key`` is one or two edits from ("" when none): one edit for keys of up
    to five characters (``qty``, ``side``, ``price``: two edits would hit unrelated words), two
    for longer ones (``limt_price``, ``time_in_forse``, ``extended_hour``)."""
    found = _TYPO.get(key)
    if found is None:
        text = key.strip().lower()
        found = ""
        if text in KNOWN_ORDER_KEYS:  # a spelling IBKR callers do use: Qty, " side"
            found = text
        else:
            best = 3
            for known in sorted(KNOWN_ORDER_KEYS):
                limit = 1 if len(known) <= 5 else 2
                distance = _edits(text, known, limit)
                if distance <= limit and distance < best:
                    best, found = distance, known
        if len(_TYPO) >= 1024:
            _TYPO.clear()
        _TYPO[key] = found
    return found


def check_order_keys(order: Mapping[str, Any]) -> tuple[str, ...]:
    """Refuse keys the plugin would otherwise drop with a meaning attached, and return the other
    unknown keys (sorted; kept out of the payload, listed in the order-log row's transcript).

    * a group key (:data:`GROUP_ORDER_KEYS`) or a key of :data:`UNIMPLEMENTED_ORDER_KEYS` (``bracket``,
      ``legs`` ...) raises naming it: the order is not sent rather than sent without its exits;
    * a key one or two edits from a known key raises naming both spellings (a likely typo).
    """
    if KNOWN_ORDER_KEYS.issuperset(order):  # the common case: one C-level check
        return ()
    unknown: list[str] = []
    for key in order:
        if key in KNOWN_ORDER_KEYS:
            continue
        if not isinstance(key, str):
            fail("order", f"order keys must be text, got {type(key).__name__} {key!r:.40}")
        if key in GROUP_ORDER_KEYS or key.strip().lower() in GROUP_ORDER_KEYS:
            fail(
                key,
                "makes this order a group (bracket, OCO or OTO): translate it with orders.groups."
                "translate_group (client.place_order places it as one group), never as a single order "
                "without its other legs",
            )
        if key in UNIMPLEMENTED_ORDER_KEYS or key.strip().lower() in UNIMPLEMENTED_ORDER_KEYS:
            fail(
                key,
                "is an order feature the IBKR plugin does not implement (brackets, OCO, chained and "
                "attached orders); the order is refused rather than sent without it",
            )
        typo = likely_typo(key)
        if typo:
            fail(key, f"unknown order key, likely a typo of {typo!r}; write {typo!r} (nothing was sent)")
        unknown.append(key)
    return tuple(sorted(unknown))
