"""Contract-lookup operations of the I/O-free core (secdef search, strikes, info, rules,
``/trsrv`` stocks and futures, currency pairs, bond filters). See :mod:`axion_broker_ibkr.ops.iserver`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import models as m
from ..errors import (
    CompetingSessionError,
    ContractNotFoundError,
    GatewayConnectionError,
    GatewayError,
    NotAuthenticatedError,
    RateLimitedError,
    WireFormatError,
)
from ..wire import convert
from .effects import Op, SessionState
from .effects import call as _call
from .effects import get as _get
from .effects import post as _post
from .iserver import ensure_accounts

# --------------------------------------------------------------------------------------------
# Contracts

_SYMBOL_RE = re.compile(r"[A-Z0-9][A-Z0-9. /-]{0,20}")


def clean_symbol(symbol: str, name: str = "symbol") -> str:
    text = str(symbol).strip().upper()
    if not _SYMBOL_RE.fullmatch(text):
        raise ValueError(f"{name}: not a ticker symbol: {symbol!r}")
    return text


def search(
    state: SessionState, symbol: str, sec_type: str = "STK", *, name: bool = False
) -> Op[list[m.SecdefSearchResult]]:
    yield from ensure_accounts(state)
    params = {"symbol": symbol.strip(), "secType": sec_type.upper(), "name": True if name else None}
    data = yield from _call(_get("/iserver/secdef/search", params))
    if isinstance(data, Mapping) and data.get("error"):
        return []
    results = convert.structure_list(data or [], m.SecdefSearchResult)
    if not name:
        state.searched.update(str(r.conid) for r in results if r.conid is not None)
    return results


def contract_info(state: SessionState, conid: int) -> Op[m.ContractInfo]:
    yield from ensure_accounts(state)
    data = yield from _call(_get(f"/iserver/contract/{int(conid)}/info"))
    return convert.structure(data, m.ContractInfo)


def contract_rules(
    state: SessionState,
    conid: int,
    *,
    is_buy: bool = True,
    exchange: str | None = None,
    modify_order_id: int | None = None,
) -> Op[m.ContractRules]:
    yield from ensure_accounts(state)
    body: dict[str, Any] = {"conid": int(conid), "isBuy": is_buy}
    if exchange:
        body["exchange"] = exchange
    if modify_order_id is not None:
        body.update(modifyOrder=True, orderId=int(modify_order_id))
    data = yield from _call(_post("/iserver/contract/rules", body))
    return convert.structure(data, m.ContractRules)


def rules_or_none(
    state: SessionState, conid: int, *, is_buy: bool, exchange: str | None = None
) -> Op[m.ContractRules | None]:
    """``/iserver/contract/rules`` for one side, or ``None`` when IBKR gives none for the contract
    (an ``error`` answer, a refusal, an unreadable body): the translator then falls back to its
    static table and the order result says so. A lost session is not "no rules": it raises."""
    try:
        rules = yield from contract_rules(state, conid, is_buy=is_buy, exchange=exchange)
    except (NotAuthenticatedError, CompetingSessionError, GatewayConnectionError, RateLimitedError):
        raise
    except (GatewayError, WireFormatError):
        return None
    if rules.error or not (rules.increment_rules or rules.increment or rules.order_types):
        return None
    return rules


def with_contract_rules(state: SessionState, contract: m.IBKRContract) -> Op[m.IBKRContract]:
    """The contract with IBKR's rules for a buy and for a sell (two requests, once per conid and
    side; the resolver caches the result with the contract). Unchanged when IBKR gives none."""
    venue = contract.exchange if contract.exchange and contract.exchange != "SMART" else None
    buy = yield from rules_or_none(state, contract.conid, is_buy=True, exchange=venue)
    sell = yield from rules_or_none(state, contract.conid, is_buy=False, exchange=venue)
    return contract.with_rules(buy, sell)


def secdef_records(conids: Sequence[int]) -> Op[list[Mapping[str, Any]]]:
    """``GET /trsrv/secdef?conids=`` (REFERENCE §3.1, at most 200 conids per request): IBKR's own
    definition of each conid (``assetClass``, ``ticker``, ``strike`` as text, ``putOrCall``,
    ``expiry``, ``multiplier``, ``undConid``, ``incrementRules`` ...)."""
    wanted = [int(c) for c in conids]
    if not wanted or len(wanted) > 200:
        raise ValueError(f"conids: 1 to 200 conids per request, got {len(wanted)}")
    data = yield from _call(_get("/trsrv/secdef", {"conids": ",".join(str(c) for c in wanted)}))
    records = data.get("secdef") if isinstance(data, Mapping) else None
    if records is None and data not in (None, ""):  # 204: no definitions
        raise WireFormatError("/trsrv/secdef: expected an object with a 'secdef' list")
    return [r for r in records or [] if isinstance(r, Mapping)]


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _text_or_none(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None


def order_contract(state: SessionState, conid: int) -> Op[m.IBKRContract]:
    """The full contract of a conid from IBKR's own definitions, for an order on it (a modify,
    an order read back from the live orders): ``/trsrv/secdef`` gives the security type, the
    strike, right, expiry and multiplier (``/iserver/contract/{conid}/info`` has no strike or
    right), ``/iserver/contract/{conid}/info`` the routing exchange, currency, local symbol and
    trading class; then the contract rules. Raises :class:`ContractNotFoundError` when IBKR has
    no definition of the conid."""
    conid = int(conid)
    records = yield from secdef_records([conid])
    record = next((r for r in records if str(r.get("conid")) == str(conid)), None)
    if record is None:
        raise ContractNotFoundError(f"conid {conid}: IBKR has no definition of it (/trsrv/secdef)", [])
    info = yield from contract_info(state, conid)
    sec_type = (_text_or_none(record.get("assetClass")) or info.instrument_type or "STK").upper()
    currency = _text_or_none(record.get("currency")) or info.currency or "USD"
    ticker = _text_or_none(record.get("ticker")) or info.symbol or str(conid)
    local = info.local_symbol
    symbol = ticker
    if sec_type == "CASH":  # the pair, as the resolver names it (EUR.USD), never the base alone
        symbol = local if local and "." in local else (ticker if "." in ticker else f"{ticker}.{currency}")
        local = symbol
    expiry = _text_or_none(record.get("expiry")) or info.expiry_full
    if sec_type in ("STK", "CASH", "BOND"):
        expiry = None
    right = (_text_or_none(record.get("putOrCall")) or "").upper()[:1] or None
    if sec_type == "CASH":
        exchange = "IDEALPRO"
    elif sec_type in ("FUT", "FOP"):
        exchange = info.exchange or _text_or_none(record.get("listingExchange")) or "SMART"
    else:
        exchange = info.exchange or "SMART"
    und = record.get("undConid") or info.underlying_conid
    contract = m.IBKRContract(
        conid=conid,
        sec_type=sec_type,
        symbol=symbol,
        exchange=exchange,
        currency=currency,
        multiplier=_float_or_none(record.get("multiplier")) or info.multiplier,
        expiry=expiry[:8] if expiry else None,
        strike=_float_or_none(record.get("strike")) if sec_type in ("OPT", "FOP", "WAR") else None,
        right=right if right in ("C", "P") and sec_type in ("OPT", "FOP", "WAR") else None,
        description=_text_or_none(record.get("fullName")) or info.company_name or ticker,
        listing_exchange=_text_or_none(record.get("listingExchange")),
        local_symbol=local,
        trading_class=info.trading_class,
        underlying_conid=int(und) if und and int(und) > 0 else None,
        maturity=info.maturity_date if sec_type == "BOND" else None,
        issuer=info.underlying_issuer if sec_type == "BOND" else None,
        cusip=_text_or_none(info.cusip) if sec_type == "BOND" else None,
    )
    return (yield from with_contract_rules(state, contract))


def stocks(symbols: Sequence[str]) -> Op[dict[str, list[m.StockInstrument]]]:
    clean = list(dict.fromkeys(clean_symbol(s, "symbols") for s in symbols))
    if not clean:
        return {}
    data = yield from _call(_get("/trsrv/stocks", {"symbols": ",".join(clean)}))
    if not isinstance(data, Mapping):
        raise WireFormatError("/trsrv/stocks: expected a JSON object")
    return {str(k): convert.structure_list(v or [], m.StockInstrument) for k, v in data.items()}


def futures(symbols: Sequence[str], exchange: str | None = None) -> Op[dict[str, list[m.FutureContract]]]:
    clean = list(dict.fromkeys(clean_symbol(s, "symbols") for s in symbols))
    if not clean:
        return {}
    data = yield from _call(_get("/trsrv/futures", {"symbols": ",".join(clean), "exchange": exchange}))
    if not isinstance(data, Mapping):
        raise WireFormatError("/trsrv/futures: expected a JSON object")
    return {
        str(k): convert.structure_list(v or [], m.FutureContract)
        for k, v in data.items()
        if isinstance(v, list)
    }


def currency_pairs(currency: str) -> Op[list[m.CurrencyPair]]:
    ccy = currency.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", ccy):
        raise ValueError(f"currency: expected a 3-letter code, got {currency!r}")
    data = yield from _call(_get("/iserver/currency/pairs", {"currency": ccy}))
    if not isinstance(data, Mapping):
        raise WireFormatError("/iserver/currency/pairs: expected a JSON object")
    return convert.structure_list(data.get(ccy) or [], m.CurrencyPair)


def strikes(
    state: SessionState, conid: int, month: str, sec_type: str = "OPT", exchange: str | None = None
) -> Op[m.Strikes]:
    if not re.fullmatch(r"[A-Z]{3}\d{2}", month.upper()):
        raise ValueError(f"month: expected IBKR's MMMYY (e.g. JAN25), got {month!r}")
    yield from ensure_accounts(state)
    params = {"conid": int(conid), "sectype": sec_type, "month": month.upper(), "exchange": exchange}
    data = yield from _call(_get("/iserver/secdef/strikes", params))
    return convert.structure(data, m.Strikes)


def secdef_info(
    state: SessionState,
    *,
    conid: int | None = None,
    sec_type: str,
    month: str | None = None,
    strike: float | None = None,
    right: str | None = None,
    issuer_id: str | None = None,
    filters: str | None = None,
    exchange: str | None = None,
) -> Op[list[m.SecdefInfo]]:
    if right is not None and right.upper() not in ("C", "P"):
        raise ValueError(f"right: must be 'C' or 'P', got {right!r}")
    yield from ensure_accounts(state)
    params = {
        "conid": conid,
        "sectype": sec_type,
        "month": month.upper() if month else None,
        "strike": None if strike is None else f"{strike:g}",
        "right": right.upper() if right else None,
        "issuerId": issuer_id,
        "filters": filters,
        "exchange": exchange,
    }
    data = yield from _call(_get("/iserver/secdef/info", params))
    if isinstance(data, Mapping):
        if data.get("error"):
            return []
        data = [data]
    return convert.structure_list(data or [], m.SecdefInfo)


def bond_filters(state: SessionState, issuer_id: str) -> Op[list[m.BondFilter]]:
    yield from ensure_accounts(state)
    # The OpenAPI spells it issueId [conflict]; the docs and ibind use issuerId, as here.
    data = yield from _call(_get("/iserver/secdef/bond-filters", {"symbol": "BOND", "issuerId": issuer_id}))
    if not isinstance(data, Mapping):
        raise WireFormatError("/iserver/secdef/bond-filters: expected a JSON object")
    return convert.structure_list(data.get("bondFilters") or [], m.BondFilter)
