"""The package's one cattrs converter: IBKR wire names and wire formats live here and nowhere else.

Receiving is lenient: unknown keys are ignored, numbers may arrive as display strings
(``"1,300"``, ``"1.2M"``, ``"C168.42"``), conids as int or string, booleans as ``"1"``/``"0"``.
A value that cannot be read raises :class:`~axion_broker_ibkr.errors.WireFormatError` naming the
model and the field. Sending (order payloads) is strict and is done by :mod:`axion_broker_ibkr.orders`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .. import models as m
from ..errors import WireFormatError

T = TypeVar("T")

# --------------------------------------------------------------------------------------------
# Wire value parsing

_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9}
_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_number(value: Any) -> float | None:
    """Parse an IBKR number: JSON number, or display text such as ``"1,300"``, ``"1.2M"``,
    ``"C168.42"`` (close), ``"H168.42"`` (halted), ``"12.5%"``. Empty text and ``None`` are ``None``.
    Raises ``ValueError`` for text that is not a number.
    """
    if value.__class__ is str and value.replace(".", "", 1).isdecimal():
        return float(value)  # the usual plain text ("319.05", "3200"): what the rules below make of it
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        return None
    if isinstance(value, int | float):
        f = float(value)
        if math.isnan(f):
            return None
        return f
    if not isinstance(value, str):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    text = value.strip().replace(",", "")
    if not text or text in {"-", "N/A", "n/a"}:
        return None
    if text[0] in "CH" and len(text) > 1:
        text = text[1:]
    if text.endswith("%"):
        text = text[:-1]
    mult = 1.0
    if text and text[-1].upper() in _SUFFIX:
        mult = _SUFFIX[text[-1].upper()]
        text = text[:-1]
    if not _NUM_RE.match(text):
        raise ValueError(f"not a number: {value!r}")
    return float(text) * mult


def parse_int(value: Any) -> int:
    """An IBKR integer: JSON integer, ``"8314"``, ``"1,300"``, ``"5.0"``; raises ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if re.fullmatch(r"[+-]?\d+\.0*", text):
            return int(float(text))
    raise ValueError(f"expected an integer, got {value!r}")


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "y", "0", "false", "no", "n"}:
        return value.strip().lower() in {"1", "true", "yes", "y"}
    raise ValueError(f"expected a boolean, got {value!r}")


def _parse_str(value: Any) -> str:
    if value.__class__ is str or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected text, got {type(value).__name__}")


def _parse_date(value: Any) -> dt.date:
    text = str(value).strip()
    if re.fullmatch(r"\d{8}", text):
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    return dt.date.fromisoformat(text)


def _parse_float(value: Any) -> float:
    f = parse_number(value)
    if f is None:
        raise ValueError(f"expected a number, got {value!r}")
    return f


# --------------------------------------------------------------------------------------------
# Rename tables: python name -> wire name (only where they differ)


def camel_case(name: str) -> str:
    """``server_name`` -> ``serverName``: the wire name of most renamed fields."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _renames(camel: str, **other: str) -> dict[str, str]:
    """A model's renames: each field ``camel`` names (space-separated) -> :func:`camel_case` of it,
    and the ``other`` field -> wire name pairs."""
    return {**{name: camel_case(name) for name in camel.split()}, **other}


RENAMES: dict[type[Any], dict[str, str]] = {
    m.ServerInfo: _renames("server_name server_version"),
    m.AuthStatus: _renames("server_info", mac="MAC"),
    m.TickleIServer: _renames("auth_status"),
    m.Tickle: _renames("sso_expires user_id"),
    m.AccountProps: _renames(
        "has_child_accounts supports_cash_qty is_prop supports_fractions allow_customer_time",
        no_fx_conv="noFXConv",
    ),
    m.IServerAccounts: _renames(
        "acct_props allow_features chart_periods selected_account server_info session_id is_paper",
        is_ft="isFT",
    ),
    m.AccountParent: _renames("account_id is_m_parent is_m_child is_multiplex"),
    m.Account: _renames(
        "account_id account_van account_title display_name account_alias account_status trading_type "
        "business_type ib_entity clearing_status no_client_trading brokerage_access",
        track_virtual_fx_portfolio="trackVirtualFXPortfolio",
    ),
    m.SummaryValue: _renames("is_null"),
    m.CashBalance: _renames("settled_cash"),
    m.BrokerageSummary: _renames(
        "account_type buying_power available_funds excess_liquidity net_liquidation_value "
        "equity_with_loan_value reg_t_loan total_cash_value accrued_interest reg_t_margin initial_margin "
        "maintenance_margin cash_balances",
        sma="SMA",
        securities_gvp="securitiesGVP",
    ),
    m.Position: _renames(
        "contract_desc mkt_price mkt_value avg_cost avg_price realized_pnl unrealized_pnl put_or_call "
        "exercise_style con_exch_map asset_class und_conid listing_exchange country_code",
        account_id="acctId",
    ),
    m.PnLRow: _renames("row_type"),
    m.OrderQuestion: _renames("message_ids is_suppressed"),
    m.Order: _renames(
        "order_id cash_ccy size_and_fills order_desc sec_type listing_exchange remaining_quantity "
        "filled_quantity total_size total_cash_size company_name orig_order_type order_type "
        "supports_tax_opt last_execution_time aux_price avg_price time_in_force parent_id bg_color "
        "fg_color",
        last_execution_time_r="lastExecutionTime_r",
        client_order_id="order_ref",
        outside_rth="outsideRTH",
    ),
    m.Trade: _renames("account_code", client_order_id="order_ref", conidex="conidEx"),
    m.Quote: _renames("", conidex="conidEx"),
    m.Candle: _renames("", time="t", open="o", high="h", low="l", close="c", volume="v"),
    m.History: _renames(
        "server_id price_factor start_time time_period bar_length md_availability outside_rth mkt_data_delay",
        bars="data",
    ),
    m.ContractInfo: _renames("", conid="con_id", underlying_conid="underlying_con_id", rth="r_t_h"),
    m.IncrementRule: _renames("lower_edge"),
    m.ContractRules: _renames(
        "order_types order_types_outside tif_types cqt_types fraq_types ib_algo_types can_trade_acct_ids "
        "increment_rules increment_digits increment_type size_increment default_size cash_ccy limit_price "
        "force_order_preview algo_eligible overnight_eligible negative_capable",
        stop_price="stopprice",
    ),
    m.SearchSection: _renames("sec_type"),
    m.SecdefSearchResult: _renames("company_header company_name"),
    m.SecdefInfo: _renames("sec_type listing_exchange maturity_date trading_class valid_exchanges"),
    m.StockContract: _renames("", is_us="isUS"),
    m.StockInstrument: _renames("chinese_name asset_class"),
    m.FutureContract: _renames("underlying_conid expiration_date short_futures_cut_off long_futures_cut_off"),
    m.CurrencyPair: _renames("ccy_pair"),
    m.BondFilter: _renames("display_text column_id"),
}

# Alternative spellings seen for the same field (reference §9.16): wire name -> canonical wire name.
ALIASES: dict[type[Any], dict[str, str]] = {
    m.History: {"serverid": "serverId"},
    m.Order: {"conidEx": "conidex", "orderRef": "order_ref", "outsideRth": "outsideRTH"},
    m.Trade: {"conidex": "conidEx", "orderId": "order_id"},
    m.OrderStatus: {"conidEx": "conidex"},
    m.Quote: {"conidex": "conidEx"},
}


class _NoShortcut:
    """A class no wire value has: :func:`_optional` without a shortcut."""


def _optional(read: Callable[[Any], T], same: type[Any] = _NoShortcut) -> Callable[[Any, Any], T | None]:
    """The structure hook of ``X | None`` for X's reader ``read``: ``None`` stays ``None``; a value
    of class ``same`` (which ``read`` returns as it is: a text for ``str``) is returned without the call."""

    def structure_optional(value: Any, _: Any) -> T | None:
        if value.__class__ is same:
            return value  # type: ignore[no-any-return]
        return None if value is None else read(value)

    return structure_optional


def _optional_number(value: Any, _: Any) -> float | None:
    """The structure hook of ``float | None``: :func:`parse_number`, a float (not NaN) as it is."""
    return value if value.__class__ is float and value == value else parse_number(value)


def _build_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(int, lambda v, _: parse_int(v))
    conv.register_structure_hook(float, lambda v, _: _parse_float(v))
    # An optional number sent as "" (e.g. order status ``average_price`` before a fill) is unknown.
    conv.register_structure_hook(float | None, _optional_number)
    conv.register_structure_hook(bool, lambda v, _: _parse_bool(v))
    conv.register_structure_hook(str, lambda v, _: _parse_str(v))
    conv.register_structure_hook(dt.date, lambda v, _: _parse_date(v))
    conv.register_unstructure_hook(dt.date, lambda d: int(d.strftime("%Y%m%d")))
    conv.register_structure_hook(Any, lambda v, _: v)
    # ``X | None`` straight to X's reader (what cattrs' generic optional hook does, by a dispatch
    # per value): the models are mostly optional fields, and a stream structures them per frame
    for base, read, same in ((int, parse_int, int), (bool, _parse_bool, bool), (str, _parse_str, str)):
        conv.register_structure_hook(base | None, _optional(read, same))
    conv.register_structure_hook(dt.date | None, _optional(_parse_date))
    for cls, renames in RENAMES.items():
        overrides = {name: override(rename=wire) for name, wire in renames.items()}
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **overrides))  # type: ignore[arg-type]
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, **overrides))  # type: ignore[arg-type]
    return conv


converter: cattrs.Converter = _build_converter()


def _drop_nulls(data: Mapping[str, Any]) -> dict[str, Any]:
    """``null`` on the wire means "not sent": let the model's default (``None``/empty) apply."""
    return {k: v for k, v in data.items() if v is not None}


def structure(data: Any, cls: type[T]) -> T:
    """Structure one JSON object into ``cls``; errors name the model and the field."""
    if isinstance(data, Mapping):
        aliases = ALIASES.get(cls)
        if aliases:
            copied = False  # copied when an alias applies (usually none does)
            for alt, canonical in aliases.items():
                if alt in data and canonical not in data:
                    if not copied:
                        data, copied = dict(data), True
                    data[canonical] = data.pop(alt)
        data = _drop_nulls(data)
        if cls is m.AuthStatus:
            data = _auth_status_fail(data)
        elif cls is m.Tickle:
            data = _tickle(data)
        elif cls is m.Quote:
            return cast(T, quote_from_wire(data))
    elif cls is not m.Quote:
        raise WireFormatError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # cattrs raises ClassValidationError groups
        raise WireFormatError(f"{cls.__name__}: {_describe(exc)}") from exc


def structure_list(data: Any, cls: type[T]) -> list[T]:
    if not isinstance(data, list):
        raise WireFormatError(f"list[{cls.__name__}]: expected a JSON array, got {type(data).__name__}")
    return [structure(item, cls) for item in data]


def structure_map(data: Any, cls: type[T]) -> dict[str, T]:
    if not isinstance(data, Mapping):
        raise WireFormatError(f"dict[str, {cls.__name__}]: expected a JSON object, got {type(data).__name__}")
    return {str(k): structure(v, cls) for k, v in data.items()}


def unstructure(obj: Any) -> Any:
    """Model -> wire-named JSON-ready value."""
    return converter.unstructure(obj)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.ClassValidationError):
        parts = []
        for item in exc.group_exceptions():
            if isinstance(item, tuple) and len(item) == 2:
                sub, note = item
                parts.append(f"field {getattr(note, 'name', '?')!r}: {_describe(sub)}")
            else:
                parts.append(str(item))
        return "; ".join(parts) or str(exc)
    return str(exc)


def _auth_status_fail(data: dict[str, Any]) -> dict[str, Any]:
    # [conflict] `fail` is top level in real payloads, under serverInfo in the OpenAPI model.
    info = data.get("serverInfo")
    if "fail" not in data and isinstance(info, Mapping) and "fail" in info:
        data = dict(data)
        data["fail"] = info["fail"]
    return data


def _tickle(data: dict[str, Any]) -> dict[str, Any]:
    # `hmds` is usually {"error": "no bridge"} (benign); keep it as a plain dict.
    iserver = data.get("iserver")
    if isinstance(iserver, Mapping) and isinstance(iserver.get("authStatus"), Mapping):
        data = dict(data)
        iserver = dict(iserver)
        iserver["authStatus"] = _auth_status_fail(_drop_nulls(iserver["authStatus"]))
        data["iserver"] = iserver
    return data


# --------------------------------------------------------------------------------------------
# Market data snapshot fields

#: field id -> Quote attribute, for numeric fields.
QUOTE_NUMERIC_FIELDS: dict[str, str] = {
    "31": "last",
    "84": "bid",
    "86": "ask",
    "88": "bid_size",
    "85": "ask_size",
    "7059": "last_size",
    "87": "volume",
    "70": "high",
    "71": "low",
    "7295": "open",
    "7296": "close",
    "7741": "prior_close",
    "82": "change",
    "83": "change_pct",
    "7635": "mark",
}
#: field id -> Quote attribute, for text fields.
QUOTE_TEXT_FIELDS: dict[str, str] = {"55": "symbol", "7051": "company_name", "6509": "availability"}
#: fields the client asks for by default (6070 sec type and 7221 listing exchange say whether the
#: sizes are a US stock's, shown in lots of 100: :func:`size_lot`).
DEFAULT_QUOTE_FIELDS: tuple[str, ...] = (
    "31", "84", "86", "88", "85", "7059", "87", "7762", "70", "71", "7295", "7741", "82", "83", "55", "6509",
    "6070", "7221",
)  # fmt: skip

#: Listing exchanges (field 7221, the part before any ``.``: ``NASDAQ.NMS``) of US stocks.
US_LISTING_EXCHANGES: frozenset[str] = frozenset(
    {"NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "BYX", "IEX", "NYSENAT", "PINK", "OTC", "CHX", "PSX", "BEX",
     "EDGEA", "EDGX", "LTSE", "MEMX", "PEARL", "ISE", "DRCTEDGE"}
)  # fmt: skip

#: Size fields IBKR shows divided by 100 for US stocks -> Quote attribute. Settled by IBKR's field
#: list as ibind 0.2.2 carries it (``ibkr_definitions.py``, fields 85 and 88: "For US stocks, the
#: number displayed is divided by 100"); REFERENCE §5.2 marks the current docs as silent, so a quote
#: whose security type or listing exchange is not known keeps IBKR's numbers (``size_lot`` None).
#: 7059 (last size) carries no such remark and is never scaled.
LOT_SIZE_FIELDS: tuple[tuple[str, str], ...] = (("88", "bid_size"), ("85", "ask_size"))


def size_lot(fields: Mapping[str, str]) -> float | None:
    """The factor from IBKR's displayed sizes to shares: 100 for a US stock, 1 for anything else,
    ``None`` when fields 6070/7221 have not said which."""
    sec_type = fields.get("6070")
    if sec_type is None:
        return None
    if sec_type.strip().upper() != "STK":
        return 1.0
    exchange = fields.get("7221")
    if exchange is None:
        return None
    return 100.0 if exchange.strip().upper().split(".")[0] in US_LISTING_EXCHANGES else 1.0


def apply_size_lot(values: dict[str, Any], fields: Mapping[str, str]) -> None:
    """Set ``values["size_lot"]`` and, for a US stock, the bid/ask sizes in shares (from the raw texts)."""
    lot = size_lot(fields)
    values["size_lot"] = lot
    if lot is not None and lot != 1.0:
        for key, attr in LOT_SIZE_FIELDS:
            text = fields.get(key)
            if text is not None:
                number = parse_number(text)
                values[attr] = None if number is None else number * lot


_META_KEYS = {"conid", "conidEx", "conidex", "_updated", "server_id", "topic", "6119"}


def summary_amount(text: str | float | None) -> tuple[float | None, str | None]:
    """A brokerage-summary section value -> (number, currency): ``"1,112,961 USD"`` -> (1112961.0,
    "USD"), ``"0.00"`` -> (0.0, None); text that is not an amount (``"Unlimited"``, ``"@ 16:00:00"``)
    -> (None, None)."""
    if text is None or isinstance(text, bool):
        return None, None
    if isinstance(text, int | float):
        return float(text), None
    number, _, currency = text.strip().partition(" ")
    try:
        value = parse_number(number)
    except ValueError:
        return None, None
    ccy = currency.strip()
    return value, (ccy if ccy.isalpha() and ccy.isupper() and len(ccy) == 3 else None)


def summary_section(data: Any, path: str) -> m.SummarySection:
    """``/iserver/account/{acct}/summary/{section}``: segment -> label -> text (values as sent,
    numbers written as text)."""
    if not isinstance(data, Mapping):
        raise WireFormatError(f"{path}: expected a JSON object, got {type(data).__name__}")
    out: m.SummarySection = {}
    for segment, values in data.items():
        if isinstance(values, Mapping):
            out[str(segment)] = {str(k): "" if v is None else str(v) for k, v in values.items()}
    return out


#: The Quote attributes a merge carries over (all but ``conid`` and ``fields``).
QUOTE_VALUE_ATTRS: tuple[str, ...] = (
    *QUOTE_NUMERIC_FIELDS.values(), *QUOTE_TEXT_FIELDS.values(),
    "last_is_close", "halted", "conidex", "updated", "server_id", "size_lot",
)  # fmt: skip


_QUOTE_NUMBER_NAMES = {**QUOTE_NUMERIC_FIELDS, "7762": "volume"}


def quote_number(conid: int, key: str, value: Any) -> float | None:
    """A numeric quote field's number (:func:`merge_quote`'s parser); errors name the conid and field."""
    try:
        return parse_number(value)
    except ValueError as exc:
        raise WireFormatError(
            f"Quote {conid}: field {key} ({_QUOTE_NUMBER_NAMES.get(key, key)}): {exc}"
        ) from exc


def merge_quote(
    conid: int,
    data: Mapping[str, Any],
    values: dict[str, Any],
    fields: dict[str, str],
    number: Callable[[int, str, Any], float | None] = quote_number,
    remembered: dict[str, float | None] | None = None,
) -> dict[str, str]:
    """The one quote-merge rule, for snapshot rows and ``smd`` frames alike: apply ``data`` onto
    ``values`` (Quote attribute -> value) and ``fields`` (field id -> text) in place; returns the
    field ids (-> text) that ``data`` carried.

    A field that is absent keeps its previous value (``smd`` frames are deltas); a missing value is
    ``None``, never zero; ``31`` says by its prefix whether the last price is a close (``C``) or the
    contract is halted (``H``); field 7762 (full-precision volume) wins over 87. ``number`` parses a
    numeric field (``(conid, field id, value)``); ``remembered`` (a stream's) keeps the numbers of
    the texts parsed before (prices and sizes repeat), up to ``QUOTE_NUMBERS_REMEMBERED``. A bad
    value raises :class:`WireFormatError` naming the conid and field; the caller then keeps its own
    copies unchanged (merge into copies)."""
    changed: dict[str, str] = {}
    updated: Any = data.get("_updated")  # read after the fields, so that a field's error is the one named
    keys, texts, meta, other = _QUOTE_MERGE_KEYS, QUOTE_TEXT_FIELDS, QUOTE_META_ATTRS, _OTHER_KEY
    for key, value in data.items():
        attr: Any = keys.get(key, other)
        if attr is None:  # conid, topic: not the quote's to set; _updated: read above
            continue
        if attr is not other:  # a numeric field
            if value.__class__ is str:
                text = value
                if remembered is None:
                    values[attr] = number(conid, key, value)
                else:
                    found = remembered.get(value, remembered)  # the dict itself: not remembered
                    if found is remembered:
                        if len(remembered) >= QUOTE_NUMBERS_REMEMBERED:
                            remembered.clear()
                        found = remembered[value] = number(conid, key, value)
                    values[attr] = found
            elif value is None:
                continue
            else:
                text = str(value)
                values[attr] = number(conid, key, value)
            changed[key] = text
            if key == "31":
                prefix = text.strip()[:1]
                values["last_is_close"] = prefix == "C"
                values["halted"] = prefix == "H"
            continue
        if value is None:
            continue
        attr = meta.get(key)
        if attr is None:  # a field: kept as text, named when it is one of the text fields
            text = value if value.__class__ is str else str(value)
            changed[key] = text
            attr = texts.get(key)
            if attr is not None:
                values[attr] = text
        elif QUOTE_META_PREFERRED.get(key) not in data:  # conidEx over conidex, server_id over 6119
            values[attr] = value if value.__class__ is str else str(value)
    fields.update(changed)
    if ("7762" in changed or "87" in changed) and "7762" in fields:  # 7762 wins over 87
        text = fields["7762"]
        volume = remembered.get(text, remembered) if remembered is not None else remembered
        values["volume"] = number(conid, "7762", text) if volume is remembered else volume
    if updated is not None:
        try:
            values["updated"] = updated if updated.__class__ is int else parse_int(updated)
        except ValueError as exc:
            raise WireFormatError(f"Quote {conid}: field '_updated': {exc}") from exc
    # US stock bid/ask sizes in shares (issue 16.4), from the merged texts: again whenever a text
    # it reads changed (the values of an earlier merge already hold the scaled sizes otherwise)
    if "size_lot" not in values or "6070" in changed or "7221" in changed:
        try:
            apply_size_lot(values, fields)
        except ValueError as exc:
            raise WireFormatError(f"Quote {conid}: size field: {exc}") from exc
    else:  # the lot is known and stays: scale the sizes this frame parsed (the others are scaled)
        lot = values["size_lot"]
        if lot is not None and lot != 1.0:
            for key, attr in LOT_SIZE_FIELDS:
                if key in changed:
                    size = values[attr]
                    values[attr] = None if size is None else size * lot
    return changed


def quote_from_wire(data: Mapping[str, Any], base: m.Quote | None = None) -> m.Quote:
    """Build (or merge onto ``base``) a :class:`Quote` from a snapshot row or an ``smd`` frame,
    by :func:`merge_quote` (the rule the stream's quote book applies too)."""
    raw_conid = data.get("conid", base.conid if base is not None else None)
    if raw_conid is None:
        raise WireFormatError("Quote: field 'conid' is missing")
    try:
        conid = parse_int(raw_conid)
    except ValueError as exc:
        raise WireFormatError(f"Quote: field 'conid': {exc}") from exc
    if base is None:
        values: dict[str, Any] = {}
        fields: dict[str, str] = {}
    else:
        values = {name: getattr(base, name) for name in QUOTE_VALUE_ATTRS}
        fields = dict(base.fields)
    merge_quote(conid, data, values, fields)
    return m.Quote(conid=conid, fields=fields, **values)


# --------------------------------------------------------------------------------------------
# Polymorphic answers


def parse_order_reply(data: Any) -> m.OrderReply:
    """Place/modify/reply answers: a list of acks, a list of questions, or ``{"error": ...}``.

    Some doc pages show a bare object instead of a one-element list; both are accepted.
    """
    if isinstance(data, Mapping):
        if data.get("error"):
            return m.OrderReject(error=str(data["error"]))
        data = [data]
    if not isinstance(data, list) or not data:
        raise WireFormatError(f"order reply: unexpected shape {type(data).__name__}")
    if all(isinstance(item, Mapping) and "id" in item and "message" in item for item in data):
        questions = [structure(item, m.OrderQuestion) for item in data]
        return questions
    if all(isinstance(item, Mapping) and ("order_id" in item or "orderId" in item) for item in data):
        acks = []
        for item in data:
            item = dict(item)
            if "order_id" not in item:
                item["order_id"] = item.pop("orderId")
            acks.append(structure(item, m.OrderAck))
        return acks
    errors = [item.get("error") for item in data if isinstance(item, Mapping) and item.get("error")]
    if errors:
        return m.OrderReject(error="; ".join(str(e) for e in errors))
    raise WireFormatError(f"order reply: unrecognised answer {data!r:.200}")


def parse_history(data: Any) -> m.History:
    return structure(data, m.History)


def parse_pnl(data: Any) -> dict[str, m.PnLRow]:
    """``{"upnl": {"U123.Core": {...}}}`` -> ``{"U123.Core": PnLRow}``."""
    if not isinstance(data, Mapping):
        raise WireFormatError("pnl: expected a JSON object")
    rows = data.get("upnl", data)
    return structure_map(rows, m.PnLRow)


StructureFn = Callable[[Any], Any]


# --------------------------------------------------------------------------------------------
# Order payloads (section owned by orders/): the CPAPI order ticket's wire names (REFERENCE §4.1).
# Sending is strict: unstructuring omits ``None`` fields; structuring a payload refuses unknown keys.

#: :class:`axion_broker_ibkr.orders.CPAPIOrder` python name -> wire name (every field listed).
CPAPI_ORDER_WIRE_NAMES: dict[str, str] = {
    "account_id": "acctId",
    "conid": "conid",
    "conidex": "conidex",
    "sec_type": "secType",
    "client_order_id": "cOID",
    "parent_id": "parentId",
    "order_type": "orderType",
    "listing_exchange": "listingExchange",
    "outside_rth": "outsideRTH",
    "price": "price",
    "aux_price": "auxPrice",
    "side": "side",
    "quantity": "quantity",
    "tif": "tif",
    "trailing_amount": "trailingAmt",
    "trailing_type": "trailingType",
    "manual_indicator": "manualIndicator",
    "ext_operator": "extOperator",
}
#: The order payload's client order id key (IBKR's idempotency key), for readers outside this module.
WIRE_CLIENT_ORDER_ID = CPAPI_ORDER_WIRE_NAMES["client_order_id"]
#: IBKR's order id key in answers and notices (``ntf`` order notices, reply acks), for readers outside.
WIRE_ORDER_ID = "orderId"


_JSON_SCALARS: frozenset[Any] = frozenset(
    {str, int, float, bool, str | None, int | None, float | None, bool | None}
)


def register_sending_model(cls: type[T], renames: Mapping[str, str]) -> tuple[StructureFn, StructureFn]:
    """Register ``cls`` as a model we send: returns its prebuilt (unstructure, structure) functions.

    Unstructuring drops fields left at their ``None`` default and copies JSON scalars as they are
    (no per-field hook call); structuring forbids unknown keys. The functions are returned so hot
    paths call them directly, without the converter's dispatch.
    """
    attrs.resolve_types(cls)  # type: ignore[type-var]
    types = {a.name: a.type for a in attrs.fields(cls)}  # type: ignore[arg-type]
    unstructure_overrides = {
        name: override(rename=wire, unstruct_hook=identity if types[name] in _JSON_SCALARS else None)
        for name, wire in renames.items()
    }
    unstructure_fn = make_dict_unstructure_fn(
        cls,
        converter,
        _cattrs_omit_if_default=True,
        **unstructure_overrides,  # type: ignore[arg-type]
    )
    structure_fn = make_dict_structure_fn(
        cls,
        converter,
        _cattrs_forbid_extra_keys=True,
        **{name: override(rename=wire) for name, wire in renames.items()},  # type: ignore[arg-type]
    )
    converter.register_unstructure_hook(cls, unstructure_fn)
    converter.register_structure_hook(cls, structure_fn)

    def structure_one(data: Any) -> Any:
        return structure_fn(data, cls)

    return unstructure_fn, structure_one


# --------------------------------------------------------------------------------------------
# The order ticket, written and read back (the order log) here: nothing outside this module
# spells its keys.

_TICKET = CPAPI_ORDER_WIRE_NAMES
_K_COID, _K_TYPE, _K_SIDE, _K_QTY = (
    _TICKET[k] for k in ("client_order_id", "order_type", "side", "quantity")
)
_K_TIF, _K_RTH, _K_SECTYPE, _K_CONID = (_TICKET[k] for k in ("tif", "outside_rth", "sec_type", "conid"))
_K_CONIDEX, _K_ACCOUNT, _K_EXCHANGE = (_TICKET[k] for k in ("conidex", "account_id", "listing_exchange"))
_K_PRICE, _K_AUX, _K_TRAIL_AMT, _K_TRAIL_TYPE = (
    _TICKET[k] for k in ("price", "aux_price", "trailing_amount", "trailing_type")
)
_K_MANUAL, _K_OPERATOR = _TICKET["manual_indicator"], _TICKET["ext_operator"]
#: The order ticket's order type key (request codes ``LMT``, ``STP_LIMIT`` ...).
WIRE_ORDER_TYPE = _K_TYPE
#: CPAPI's order-type request codes against the words IBKR's order lists use for them.
LISTED_ORDER_TYPES: dict[str, str] = {
    "LMT": "LIMIT", "MKT": "MARKET", "STP": "STOP", "STP_LIMIT": "STOPLIMIT",
}  # fmt: skip


def order_ticket(
    client_order_id: str,
    order_type: str,
    side: str,
    quantity: float,
    tif: str,
    outside_rth: bool,
    sec_type: str,
    conid: int,
    *,
    conidex: str | None,
    account_id: str | None,
    listing_exchange: str | None,
    price: float | None,
    aux_price: float | None,
    trailing_amount: float | None,
    trailing_type: str | None,
    futures: bool,
    manual_indicator: bool | None,
    ext_operator: str | None,
) -> dict[str, Any]:
    """The CPAPI order ticket (REFERENCE §4.1) for values the translator decided: keys in
    ``CPAPIOrder`` field order, fields without a value not sent; a ticket with ``conidex`` (forex:
    ``conid@exchange``) names its contract by it alone; a futures ticket always carries
    ``manualIndicator`` and ``extOperator`` (CME Rule 536-B)."""
    ticket: dict[str, Any] = {
        _K_COID: client_order_id,
        _K_TYPE: order_type,
        _K_SIDE: side,
        _K_QTY: quantity,
        _K_TIF: tif,
        _K_RTH: outside_rth,
        _K_SECTYPE: f"{conid}:{sec_type}",
    }
    if conidex is not None:
        ticket[_K_CONIDEX] = conidex
    else:
        ticket[_K_CONID] = conid
    if account_id is not None:
        ticket[_K_ACCOUNT] = account_id
    if listing_exchange:
        ticket[_K_EXCHANGE] = listing_exchange
    if price is not None:
        ticket[_K_PRICE] = price
    if aux_price is not None:
        ticket[_K_AUX] = aux_price
    if trailing_type is not None:
        if trailing_amount is not None:
            ticket[_K_TRAIL_AMT] = trailing_amount
        ticket[_K_TRAIL_TYPE] = trailing_type
    if futures:
        ticket[_K_MANUAL] = manual_indicator
        ticket[_K_OPERATOR] = ext_operator
    return ticket


@attrs.define(frozen=True, kw_only=True)
class TicketTerms:
    """An order ticket's terms as the order log keeps them (read back by :func:`ticket_terms`)."""

    client_order_id: str | None
    #: The ticket's conid as sent (``conid``), else the conid part of ``conidex``; ``None`` without either.
    conid: Any
    side: str
    order_type: str
    quantity: float
    #: the ticket's values as sent (``None`` where it has none)
    price: Any
    aux_price: Any
    listing_exchange: Any
    tif: Any
    outside_rth: bool
    account_id: Any
    #: A cash-quantity ticket's amount (``cashQty``; the plugin sends none, a hand-built ticket may).
    cash_quantity: Any


def ticket_terms(ticket: Mapping[str, Any]) -> TicketTerms:
    """Read an order ticket (a new order's, or a modification's body) back for the order log."""
    conid = ticket.get(_K_CONID)
    if conid is None:
        conidex = ticket.get(_K_CONIDEX)
        conid = None if conidex is None else str(conidex).split("@")[0]
    coid = ticket.get(_K_COID)
    return TicketTerms(
        client_order_id=None if coid is None else str(coid),
        conid=conid,
        side=str(ticket.get(_K_SIDE) or ""),
        order_type=str(ticket.get(_K_TYPE) or ""),
        quantity=float(ticket.get(_K_QTY) or 0.0),
        price=ticket.get(_K_PRICE),
        aux_price=ticket.get(_K_AUX),
        listing_exchange=ticket.get(_K_EXCHANGE),
        tif=ticket.get(_K_TIF),
        outside_rth=bool(ticket.get(_K_RTH)),
        account_id=ticket.get(_K_ACCOUNT),
        cash_quantity=ticket.get("cashQty"),
    )


def with_client_order_id(ticket: Mapping[str, Any], client_order_id: str) -> dict[str, Any]:
    """The ticket under ``client_order_id`` (a copy)."""
    return {**ticket, _K_COID: client_order_id}


def without_client_order_id(ticket: Mapping[str, Any]) -> dict[str, Any]:
    """The ticket without its cOID (a modification's body: the cOID names the original order)."""
    return {k: v for k, v in ticket.items() if k != _K_COID}


# Constants added for the stream decoder (wire names spelled here only; issue 13 item 5)

#: The field ids :func:`size_lot` / :func:`apply_size_lot` read: a merge re-scales only when one changed.
QUOTE_SIZE_LOT_KEYS: frozenset[str] = frozenset({"6070", "7221", *(key for key, _ in LOT_SIZE_FIELDS)})
#: Numeric quote field id -> the Quote attribute an error names (7762 is a second source of ``volume``).
QUOTE_NUMBER_NAMES: dict[str, str] = _QUOTE_NUMBER_NAMES
#: The frame keys that are not fields -> the Quote attribute they set ("" for none: conid, topic);
#: the same keys as the merge's ``_META_KEYS``.
QUOTE_META_ATTRS: dict[str, str] = {
    "conid": "", "topic": "", "conidEx": "conidex", "conidex": "conidex", "_updated": "updated",
    "server_id": "server_id", "6119": "server_id",
}  # fmt: skip
#: A meta key -> the spelling that wins when a frame carries both (even as null, as ``dict.get`` read it).
QUOTE_META_PREFERRED: dict[str, str] = {"conidex": "conidEx", "6119": "server_id"}
#: Distinct quote texts a stream's merge remembers the numbers of before it starts over.
QUOTE_NUMBERS_REMEMBERED = 8192
#: merge_quote's first look-up: a numeric field id -> its attribute, a meta key that sets nothing
#: (conid, topic) and the one the merge reads before the others (_updated) -> None; any other key
#: is not in it
_QUOTE_MERGE_KEYS: dict[str, str | None] = {
    **QUOTE_NUMERIC_FIELDS,
    **{key: None for key, attr in QUOTE_META_ATTRS.items() if not attr or attr == "updated"},
}
_OTHER_KEY = object()
