"""Symbol -> :class:`~axion_broker_ibkr.models.IBKRContract` (conid), per security type.

* STK: ``/trsrv/stocks`` in batches (US listing by default; ``exchange`` picks another market).
* OPT: ``/iserver/secdef/search`` (underlying) -> ``/secdef/strikes`` (is the strike listed?) ->
  ``/secdef/info`` by month/strike/right, then the exact expiry.
* CASH: ``/iserver/currency/pairs``; IBKR lists each pair in one orientation only, so both are
  tried (``USD.EUR`` finds ``EUR.USD``; the description says it is the inverse).
* FUT: ``/trsrv/futures`` (non-expired contracts): the front month by default, skipping contracts
  whose roll cut-off has passed, or the given expiry; then ``/iserver/contract/{conid}/info`` for
  exchange, multiplier and currency.
* BOND: search ``secType=BOND`` (issuers) -> ``/secdef/bond-filters`` -> ``/secdef/info``.

Nothing is guessed: no match raises :class:`~axion_broker_ibkr.errors.ContractNotFoundError`, several
raise :class:`~axion_broker_ibkr.errors.AmbiguousContractError`; both list the candidates.
``resolve`` also fetches the contract's own rules (``/iserver/contract/rules``, a buy's and a
sell's: tick grid, size increment, order types, TIFs) and carries them on the contract
(:func:`~axion_broker_ibkr.ops.secdef.with_contract_rules`), but only then: ``resolve(...,
rules=False)`` (quotes, the watchlist: nothing there reads the rules) and the bulk
``resolve_stocks`` skip those two paced requests per contract, and the contract is cached without
them; a later ``resolve`` by the same resolver fetches them once and caches them, and the clients
fetch the rules of a contract that has none when an order on it is translated or previewed.
Results are cached in memory, then in the optional
:class:`~axion_broker_ibkr.ops.journal.ContractCache`
(the database); derivatives expire at their expiry (a front-month future at its roll cut-off).

The lookups are I/O-free operations (:mod:`axion_broker_ibkr.ops.iserver` style); the cache reads and
writes around them are plain steps (:mod:`axion_broker_ibkr.drivers.steps`), all written once and run by
either client's driver: :class:`ContractResolver` (one-line methods) for :class:`IBKRClient`,
:class:`AsyncContractResolver` for the async one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from . import models as m
from .client import AsyncIBKRClient, IBKRClient
from .drivers.steps import Steps, arun_steps, blocking, call, run_steps
from .errors import AmbiguousContractError, ContractNotFoundError
from .naming import bond_description
from .ops import effects, secdef
from .ops.journal import ContractCache
from .store.memory import MemoryContractCache

STOCK_BATCH = 100
US_EXCHANGES = frozenset({"NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "IEX", "NYSE ARCA", "PINK"})
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DETAIL_KEYS = ("expiry", "strike", "right", "exchange", "currency", "issuer", "maturity", "coupon", "name")


def _details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if key not in _DETAIL_KEYS:
            raise ValueError(f"details: unknown key {key!r}; known: {', '.join(_DETAIL_KEYS)}")
        if value is None or value == "":
            continue
        out[key] = value
    if "expiry" in out:
        text = str(out["expiry"]).replace("-", "")
        if not re.fullmatch(r"\d{6}(\d{2})?", text):
            raise ValueError(f"details.expiry: expected YYYYMMDD or YYYYMM, got {out['expiry']!r}")
        out["expiry"] = text
    if "maturity" in out:
        text = str(out["maturity"]).replace("-", "")
        if not re.fullmatch(r"\d{6}(\d{2})?", text):
            raise ValueError(f"details.maturity: expected YYYYMMDD or YYYYMM, got {out['maturity']!r}")
        out["maturity"] = text
    if "right" in out:
        right = str(out["right"]).strip().upper()[:1]
        if right not in ("C", "P"):
            raise ValueError(f"details.right: expected C/P (call/put), got {out['right']!r}")
        out["right"] = right
    if "strike" in out:
        try:
            out["strike"] = float(out["strike"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"details.strike: expected a number, got {out['strike']!r}") from exc
    if "coupon" in out:
        try:
            out["coupon"] = float(out["coupon"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"details.coupon: expected a number, got {out['coupon']!r}") from exc
    for key in ("exchange", "currency"):
        if key in out:
            out[key] = str(out[key]).strip().upper()
    return out


def cache_key(sec_type: str, symbol: str, details: Mapping[str, Any]) -> str:
    extra = ",".join(f"{k}={details[k]}" for k in sorted(details))
    return f"{sec_type}:{symbol.upper()}:{extra}"


def month_code(expiry: str) -> str:
    """``20250117`` / ``202501`` -> IBKR's ``JAN25``."""
    return f"{_MONTHS[int(expiry[4:6]) - 1]}{expiry[2:4]}"


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _yyyymmdd(text: str | None) -> dt.date | None:
    if not text or not re.fullmatch(r"\d{8}", text):
        return None
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def expires_at(contract: m.IBKRContract, *, roll: dt.date | None = None) -> dt.datetime | None:
    """When a cached resolution stops being valid: derivatives at their expiry (or roll cut-off)."""
    day = roll or _yyyymmdd(contract.expiry) or _yyyymmdd(contract.maturity)
    return None if day is None else _end_of(day)


# --------------------------------------------------------------------------------------------
# Stocks


def _stock_pick(symbol: str, groups: list[m.StockInstrument], details: Mapping[str, Any]) -> m.IBKRContract:
    exchange = details.get("exchange")
    name = str(details.get("name", "")).upper()
    candidates: list[tuple[m.StockInstrument, m.StockContract]] = []
    everything: list[str] = []
    for group in groups:
        if group.asset_class not in (None, "STK"):
            continue
        for c in group.contracts:
            everything.append(f"{c.conid} {group.name} on {c.exchange}")
            if name and name not in (group.name or "").upper():
                continue
            if exchange:
                if (c.exchange or "").upper() != exchange:
                    continue
            elif not c.is_us:
                continue
            candidates.append((group, c))
    where = f"on {exchange}" if exchange else "with a US listing"
    if not candidates:
        raise ContractNotFoundError(
            f"STK {symbol}: nothing {where}; listed: {everything or 'none'}", everything
        )
    if len(candidates) > 1:
        listed = [f"{c.conid} {g.name} on {c.exchange}" for g, c in candidates]
        raise AmbiguousContractError(
            f"STK {symbol}: {len(candidates)} matches {where}: {listed}; "
            "narrow it with details.exchange or details.name",
            listed,
        )
    group, c = candidates[0]
    # A non-US listing's currency is looked up (contract info) unless the caller gave it.
    currency = str(details.get("currency") or ("USD" if c.is_us else ""))
    return m.IBKRContract(
        conid=c.conid,
        sec_type="STK",
        symbol=symbol,
        exchange="SMART" if c.is_us else (c.exchange or "SMART"),
        listing_exchange=c.exchange,
        currency=currency,
        description=group.name or symbol,
    )


def stocks_op(
    state: effects.SessionState, symbols: Sequence[str], details: Mapping[str, Any]
) -> effects.Op[dict[str, m.IBKRContract]]:
    """Resolve many stocks with one ``/trsrv/stocks`` request per 100 symbols."""
    clean = list(dict.fromkeys(secdef.clean_symbol(s) for s in symbols))
    out: dict[str, m.IBKRContract] = {}
    for start in range(0, len(clean), STOCK_BATCH):
        batch = clean[start : start + STOCK_BATCH]
        found = yield from secdef.stocks(batch)
        for symbol in batch:
            contract = _stock_pick(symbol, found.get(symbol, []), details)
            if not contract.currency:
                info = yield from secdef.contract_info(state, contract.conid)
                if not info.currency:
                    raise ContractNotFoundError(
                        f"STK {symbol}: IBKR gave no currency for conid {contract.conid}"
                    )
                contract = _with(contract, currency=info.currency)
            out[symbol] = contract
    return out


def _with(contract: m.IBKRContract, **changes: Any) -> m.IBKRContract:
    from attrs import evolve

    return evolve(contract, **changes)


# --------------------------------------------------------------------------------------------
# Options


def _underlying(symbol: str, results: list[m.SecdefSearchResult], sec_type: str, exchange: str | None) -> int:
    matches = [
        r
        for r in results
        if (r.symbol or "").upper() == symbol and any(s.sec_type == sec_type for s in r.sections)
    ]
    if exchange is None and len(matches) > 1:
        us = [r for r in matches if (r.description or "").upper() in US_EXCHANGES]
        matches = us or matches
    elif exchange is not None:
        matches = [r for r in matches if (r.description or "").upper() == exchange] or matches
    listed = [f"{r.conid} {r.company_header}" for r in matches]
    if not matches or matches[0].conid is None:
        raise ContractNotFoundError(f"{sec_type} {symbol}: no underlying with {sec_type} contracts", listed)
    if len(matches) > 1:
        raise AmbiguousContractError(f"{sec_type} {symbol}: several underlyings: {listed}", listed)
    return int(matches[0].conid)


def _require(details: Mapping[str, Any], *keys: str, what: str) -> None:
    missing = [k for k in keys if k not in details]
    if missing:
        raise ValueError(f"details: {what} needs {', '.join(missing)}")


def option_op(
    state: effects.SessionState, symbol: str, details: Mapping[str, Any]
) -> effects.Op[m.IBKRContract]:
    _require(details, "expiry", "strike", "right", what="an option")
    expiry, strike, right = str(details["expiry"]), float(details["strike"]), str(details["right"])
    venue = details.get("exchange") if details.get("exchange") != "SMART" else None
    results = yield from secdef.search(state, symbol, "STK")
    try:
        und = _underlying(symbol, results, "OPT", venue)
    except ContractNotFoundError:
        # Index options (SPX ...): the underlying is an index.
        results = yield from secdef.search(state, symbol, "IND")
        und = _underlying(symbol, results, "OPT", venue)
    month = month_code(expiry)
    strikes = yield from secdef.strikes(state, und, month, "OPT", "SMART")
    listed = strikes.call if right == "C" else strikes.put
    if listed and not any(abs(s - strike) < 1e-6 for s in listed):
        near = sorted(listed, key=lambda s: abs(s - strike))[:6]
        raise ContractNotFoundError(
            f"OPT {symbol} {month} {right}: strike {strike:g} is not listed; nearest: {sorted(near)}", near
        )
    infos = yield from secdef.secdef_info(
        state, conid=und, sec_type="OPT", month=month, strike=strike, right=right, exchange="SMART"
    )
    infos = [i for i in infos if i.conid is not None and (i.right or right) == right]
    if len(expiry) == 8:
        infos = [i for i in infos if i.maturity_date == expiry]
    listed_infos = [f"{i.conid} {i.desc2 or ''} ({i.maturity_date})" for i in infos]
    if not infos:
        raise ContractNotFoundError(
            f"OPT {symbol} {expiry} {strike:g} {right}: no such contract", listed_infos
        )
    if len(infos) > 1:
        raise AmbiguousContractError(
            f"OPT {symbol} {month} {strike:g} {right}: {len(infos)} expiries in that month: {listed_infos}; "
            "give details.expiry as YYYYMMDD",
            listed_infos,
        )
    info = infos[0]
    assert info.conid is not None
    return m.IBKRContract(
        conid=info.conid,
        sec_type="OPT",
        symbol=symbol,
        exchange=info.exchange or "SMART",
        currency=info.currency or "USD",
        multiplier=info.multiplier or 100.0,
        expiry=info.maturity_date or expiry,
        strike=info.strike if info.strike is not None else strike,
        right=right,
        description=" ".join(x for x in (info.desc1, info.desc2) if x)
        or f"{symbol} {expiry} {strike:g} {right}",
        trading_class=info.trading_class,
        underlying_conid=und,
        listing_exchange=info.listing_exchange,
    )


# --------------------------------------------------------------------------------------------
# Forex


def _pair(symbol: str) -> tuple[str, str]:
    text = re.sub(r"[\s./-]", "", symbol.upper())
    if not re.fullmatch(r"[A-Z]{6}", text):
        raise ValueError(f"symbol: a currency pair looks like EUR.USD, EURUSD or EUR/USD; got {symbol!r}")
    return text[:3], text[3:]


def forex_op(symbol: str) -> effects.Op[m.IBKRContract]:
    base, quote = _pair(symbol)
    tried: list[str] = []
    for first, second in ((base, quote), (quote, base)):
        pairs = yield from secdef.currency_pairs(first)
        wanted = f"{first}.{second}"
        tried.extend(p.symbol or "" for p in pairs)
        for pair in pairs:
            if pair.symbol == wanted and pair.conid is not None:
                inverse = first != base
                note = f" (asked as {base}.{quote}: IBKR lists the inverse pair)" if inverse else ""
                return m.IBKRContract(
                    conid=pair.conid,
                    sec_type="CASH",
                    symbol=wanted,
                    exchange="IDEALPRO",
                    currency=second,
                    description=f"{wanted} cash pair{note}",
                    local_symbol=wanted,
                )
    raise ContractNotFoundError(
        f"CASH {base}.{quote}: IBKR lists neither {base}.{quote} nor {quote}.{base}", tried
    )


# --------------------------------------------------------------------------------------------
# Futures


def _front(contracts: list[m.FutureContract], today: dt.date) -> tuple[m.FutureContract, dt.date | None]:
    live: list[tuple[dt.date, m.FutureContract, dt.date | None]] = []
    for c in contracts:
        if c.expiration_date is None or c.expiration_date < today:
            continue
        cut_offs = [d for d in (c.short_futures_cut_off, c.long_futures_cut_off, c.ltd) if d is not None]
        roll = min(cut_offs) if cut_offs else None
        if roll is not None and roll < today:
            continue  # past its roll cut-off: the next month is the front month
        live.append((c.expiration_date, c, roll))
    if not live:
        raise ContractNotFoundError("FUT: no contract before its roll cut-off", [c.conid for c in contracts])
    live.sort(key=lambda item: item[0])
    return live[0][1], live[0][2]


def future_op(
    state: effects.SessionState, symbol: str, details: Mapping[str, Any], today: dt.date
) -> effects.Op[tuple[m.IBKRContract, dt.date | None]]:
    found = yield from secdef.futures(
        [symbol], details.get("exchange") if details.get("exchange") != "SMART" else None
    )
    contracts = found.get(symbol, [])
    listed = [f"{c.conid} exp {c.expiration_date}" for c in contracts]
    roll: dt.date | None = None
    if "expiry" in details:
        expiry = str(details["expiry"])
        fmt = "%Y%m%d" if len(expiry) == 8 else "%Y%m"
        picks = [
            c
            for c in contracts
            if c.expiration_date is not None and c.expiration_date.strftime(fmt) == expiry
        ]
        if not picks:
            raise ContractNotFoundError(
                f"FUT {symbol}: no contract expiring {expiry}; listed: {listed}", listed
            )
        if len(picks) > 1:
            raise AmbiguousContractError(f"FUT {symbol}: several contracts in {expiry}: {listed}", listed)
        chosen = picks[0]
    else:
        if not contracts:
            raise ContractNotFoundError(f"FUT {symbol}: IBKR lists no live contract", listed)
        chosen, roll = _front(contracts, today)
    assert chosen.conid is not None and chosen.expiration_date is not None
    info = yield from secdef.contract_info(state, chosen.conid)
    expiry_text = chosen.expiration_date.strftime("%Y%m%d")
    contract = m.IBKRContract(
        conid=chosen.conid,
        sec_type="FUT",
        symbol=symbol,
        exchange=info.exchange or details.get("exchange") or "SMART",
        currency=info.currency or details.get("currency") or "USD",
        multiplier=info.multiplier,
        expiry=expiry_text,
        description=info.company_name or f"{symbol} {expiry_text}",
        local_symbol=info.local_symbol,
        trading_class=info.trading_class,
        underlying_conid=chosen.underlying_conid,
    )
    return contract, roll


# --------------------------------------------------------------------------------------------
# Bonds


def _issuer(symbol: str, results: list[m.SecdefSearchResult], wanted: str | None) -> m.Issuer:
    issuers = [i for r in results for i in r.issuers]
    if wanted:
        key = wanted.lower()
        issuers = [i for i in issuers if i.id.lower() == key or key in (i.name or "").lower()]
    listed = [f"{i.id} {i.name}" for i in issuers]
    if not issuers:
        raise ContractNotFoundError(f"BOND {symbol}: no issuer matches {wanted or symbol!r}", listed)
    if len({i.id for i in issuers}) > 1:
        raise AmbiguousContractError(f"BOND {symbol}: several issuers: {listed}; give details.issuer", listed)
    return issuers[0]


#: Issuer symbols that name the US Treasury. IBKR's own bond descriptions name Treasuries ``T``
#: (``T 4 1/4 11/15/34``) while its bond search lists the issuer as ``US-T``; both are accepted.
TREASURY_SYMBOLS = frozenset({"T", "UST", "US-T"})

#: The description form IBKR and this plugin print for a bond: issuer, coupon, maturity
#: (``IBM 3.3 05/15/29``, ``US-T 4.25 11/15/34``, ``T 4 1/4 11/15/34``).
_BOND_DESCRIPTION = re.compile(
    r"(?P<issuer>[A-Z][A-Z0-9.&-]*)\s+(?P<coupon>\d+(?:\.\d+)?(?:\s+\d+/\d+)?|\d+/\d+)\s+"
    r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{2}|\d{4})"
)


def _coupon_number(text: str) -> float:
    """``4.25`` / ``4 1/4`` / ``1/2`` -> a float."""
    whole, _, fraction = text.strip().partition(" ") if "/" in text else (text, "", "")
    if "/" in whole and not fraction:
        whole, fraction = "0", whole
    value = float(whole)
    if fraction:
        top, _, bottom = fraction.partition("/")
        value += float(top) / float(bottom)
    return value


def bond_terms(symbol: str, details: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(issuer symbol to search, details) from a bond symbol: the description form
    ``ISSUER COUPON MM/DD/YY`` gives the issuer, ``coupon`` and ``maturity`` (YYYYMMDD; two-digit
    years are 20YY); ``T``/``UST`` are the Treasury (searched as ``US-T``). Terms also given in
    ``details`` must agree (a ``ValueError`` naming the field otherwise)."""
    text = " ".join(str(symbol).upper().split())
    out = dict(details)
    issuer = text
    match = _BOND_DESCRIPTION.fullmatch(text)
    if match:
        issuer = match["issuer"]
        year = int(match["year"])
        year = year + 2000 if year < 100 else year
        month, day = int(match["month"]), int(match["day"])
        try:
            dt.date(year, month, day)
        except ValueError:
            raise ValueError(
                f"symbol: {text!r}: {match['month']}/{match['day']}/{match['year']} is not a date"
            ) from None
        parsed: dict[str, Any] = {
            "coupon": _coupon_number(match["coupon"]),
            "maturity": f"{year:04d}{month:02d}{day:02d}",
        }
        for key, value in parsed.items():
            given = out.get(key)
            if given not in (None, ""):
                same = _same_coupon(given, value) if key == "coupon" else str(value).startswith(str(given))
                if not same:
                    raise ValueError(
                        f"details.{key}: {given!r} disagrees with the symbol {text!r} ({value!r})"
                    )
                if key == "maturity" and len(str(given)) == 8:
                    continue
            out[key] = value
    if issuer in TREASURY_SYMBOLS:
        issuer = "US-T"
    return issuer, out


def _same_coupon(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) < 1e-9
    except (TypeError, ValueError):
        return False


def _bond_filter_text(filters: list[m.BondFilter], details: Mapping[str, Any]) -> str:
    """``columnId:value,...`` [unconfirmed grammar, REFERENCE §3.3]; only values IBKR offered
    (a coupon matches the offered value that is the same number: ``3.3`` = ``3.30``)."""
    wanted = {
        27: str(details.get("maturity", ""))[:6],
        5: details.get("currency"),
        25: details.get("coupon"),
        0: details.get("exchange"),
    }
    parts: list[str] = []
    for f in filters:
        value = wanted.get(f.column_id or -1)
        if value in (None, ""):
            continue
        offered = [o.value for o in f.options if o.value]
        if f.column_id == 25:
            value = next((o for o in offered if _same_coupon(o, value)), value)
        if str(value) not in offered:
            raise ContractNotFoundError(
                f"BOND: {f.display_text} {value!r} is not offered; offered: {offered}", offered
            )
        parts.append(f"{f.column_id}:{value}")
    return ",".join(parts)


def _bonds_of(
    state: effects.SessionState, issuer: m.Issuer, details: Mapping[str, Any]
) -> effects.Op[list[m.SecdefInfo]]:
    """The bonds of one issuer that match the details (maturity to the day when given so,
    coupon as a number)."""
    filters = yield from secdef.bond_filters(state, issuer.id)
    text = _bond_filter_text(filters, details)
    infos = yield from secdef.secdef_info(state, sec_type="BOND", issuer_id=issuer.id, filters=text or None)
    maturity = str(details.get("maturity", ""))
    if len(maturity) == 8:
        infos = [i for i in infos if i.maturity_date == maturity]
    coupon = details.get("coupon")
    if coupon not in (None, ""):
        infos = [i for i in infos if _same_coupon(i.coupon, coupon)]
    security_id = details.get("security_id")
    if security_id:
        infos = [i for i in infos if _matches_security_id(i, str(security_id))]
    return [i for i in infos if i.conid is not None]


#: A CUSIP (9 characters) or an ISIN (2-letter country, 9 characters, check digit); at least one digit.
_SECURITY_ID = re.compile(r"(?=[A-Z0-9]*\d)(?:[A-Z0-9]{9}|[A-Z]{2}[A-Z0-9]{9}\d)")


def _matches_security_id(info: m.SecdefInfo, wanted: str) -> bool:
    """``/secdef/info`` answers each bond's ``cusip`` (REFERENCE §3.1; for non-US bonds the
    simulator, like IBKR's own listings, puts the ISIN there). A US/CA ISIN embeds the CUSIP."""
    cusip = (info.cusip or "").strip().upper()
    if not cusip:
        return False
    return cusip == wanted or (len(wanted) == 12 and wanted[:2] in ("US", "CA") and cusip == wanted[2:11])


def bond_op(
    state: effects.SessionState, symbol: str, details: Mapping[str, Any]
) -> effects.Op[m.IBKRContract]:
    search_symbol, details = bond_terms(symbol, details)
    results = yield from secdef.search(state, search_symbol, "BOND")
    by_id = bool(_SECURITY_ID.fullmatch(search_symbol))
    if by_id and not any(r.issuers for r in results):
        # The reference documents /secdef/search by symbol or name only, never by CUSIP/ISIN; the
        # ids are answered on /secdef/info (``cusip``). A gateway whose search does answer the id
        # with issuers is used below; otherwise the trader names the issuer.
        raise ContractNotFoundError(
            f"BOND {search_symbol}: IBKR's bond search does not answer this CUSIP/ISIN; resolve by the "
            "issuer's symbol with maturity/coupon (e.g. 'IBM 3.3 05/15/29')"
        )
    every = list({i.id: i for r in results for i in r.issuers}.values())
    issuers: list[m.Issuer]
    if by_id:  # the id decides among every issuer the search answered
        details = {**details, "security_id": search_symbol}
        issuers = every
    else:
        try:
            issuers = [_issuer(search_symbol, results, details.get("issuer"))]
        except AmbiguousContractError:
            # Several issuers under one symbol (IBM: IBM Corp, IBM International Capital, ...):
            # with a maturity or coupon the bond itself decides, when exactly one issuer has it.
            if not (details.get("maturity") or details.get("coupon")):
                raise
            issuers = every
    found: list[tuple[m.Issuer, m.SecdefInfo]] = []
    for issuer in issuers:
        try:
            infos = yield from _bonds_of(state, issuer, details)
        except ContractNotFoundError:
            if len(issuers) == 1:
                raise
            continue
        found.extend((issuer, i) for i in infos)
    listed = [f"{i.conid} {i.desc2 or ''} matures {i.maturity_date} coupon {i.coupon}" for _, i in found]
    names = ", ".join(i.name or i.id for i in issuers)
    if not found:
        raise ContractNotFoundError(f"BOND {symbol} ({names}): no bond matches {dict(details)}", listed)
    if len(found) > 1:
        raise AmbiguousContractError(
            f"BOND {symbol} ({names}): {len(found)} bonds match: {listed}; "
            "give details.maturity, coupon or currency",
            listed,
        )
    issuer, info = found[0]
    assert info.conid is not None
    coupon: float | None
    try:
        coupon = float(info.coupon) if info.coupon else None
    except ValueError:
        coupon = None
    return m.IBKRContract(
        conid=info.conid,
        sec_type="BOND",
        symbol=symbol,
        exchange=info.exchange or "SMART",
        currency=info.currency or details.get("currency") or "USD",
        maturity=info.maturity_date,
        coupon=coupon,
        issuer=issuer.name,
        cusip=(info.cusip or "").strip() or None,
        description=" ".join(x for x in (info.desc1, info.desc2) if x) or f"{issuer.name} bond",
        # The description form, which the translate hook accepts back as the order's symbol too.
        local_symbol=bond_description(search_symbol, coupon, info.maturity_date),
    )


# --------------------------------------------------------------------------------------------
# Resolvers


def sec_type_for(asset_type: str) -> str:
    """Host asset type (both vocabularies, plus IBKR's own codes) -> secType."""
    if asset_type.upper() in ("STK", "OPT", "CASH", "FUT", "BOND"):
        return asset_type.upper()
    from .orders import asset_type_to_sec_type

    return asset_type_to_sec_type(asset_type)


#: The client a resolver drives (its subclass says which).
_Client = TypeVar("_Client", IBKRClient, AsyncIBKRClient)


class _ResolverBase(Generic[_Client]):
    """The resolver's rules, written once: :meth:`_resolve_steps` / :meth:`_stocks_steps` are plain
    steps (:mod:`axion_broker_ibkr.drivers.steps`) run by either client's driver. The persistent cache
    (SQLite/PostgreSQL) is read before the operation (for the keys the in-memory front does not
    hold) and written after it, as :class:`~axion_broker_ibkr.drivers.steps.Blocking` steps: in a worker
    thread under asyncio, so a cache lookup never blocks the event loop; the operation itself sees
    the in-memory front only."""

    def __init__(
        self,
        client: _Client,
        cache: ContractCache | None = None,
        *,
        today: dt.date | None = None,
    ) -> None:
        self.client: _Client = client
        self.memory = MemoryContractCache()
        self.cache = cache
        self._today = today
        #: Keys this resolver cached without asking IBKR for their rules (``rules=False``): a later
        #: ``resolve`` asks then. A contract another process cached without rules is returned as
        #: it is (IBKR may have had none); the clients fetch the rules when an order on it is
        #: translated or previewed.
        self._rules_skipped: set[str] = set()
        #: Roll cut-offs of the front-month futures this resolver found (their cache expiry).
        self._rolls: dict[str, dt.date] = {}
        #: Contracts resolved by the operation and not yet written to ``cache``.
        self._unsaved: list[tuple[str, m.IBKRContract, dt.datetime | None]] = []

    @property
    def today(self) -> dt.date:
        return self._today or dt.datetime.now(dt.UTC).date()

    def _cached(self, key: str) -> m.IBKRContract | None:
        return self.memory.get(key)

    def _store(self, key: str, contract: m.IBKRContract, roll: dt.date | None = None) -> None:
        if roll is not None:
            self._rolls[key] = roll
        when = expires_at(contract, roll=roll)
        self.memory.put(key, contract, when)
        if self.cache is not None:
            self._unsaved.append((key, contract, when))

    @staticmethod
    def _key(symbol: str, asset_type: str, details: Mapping[str, Any] | None) -> str:
        sec_type = sec_type_for(asset_type)
        sym = symbol.strip().upper() if sec_type == "CASH" else secdef.clean_symbol(symbol)
        return cache_key(sec_type, sym, _details(details))

    def _op(
        self,
        state: effects.SessionState,
        symbol: str,
        asset_type: str,
        details: Mapping[str, Any] | None,
        rules: bool = True,
    ) -> effects.Op[m.IBKRContract]:
        sec_type = sec_type_for(asset_type)
        d = _details(details)
        sym = symbol.strip().upper() if sec_type == "CASH" else secdef.clean_symbol(symbol)
        key = cache_key(sec_type, sym, d)
        hit = self._cached(key)
        if hit is not None and (not rules or key not in self._rules_skipped):
            return hit
        if hit is not None and (hit.sec_type != "FUT" or key in self._rolls):
            # Cached without its rules (a quote resolved it): fetch them now, keep its expiry (a
            # front month's roll cut-off is known only to the resolver that found it; else below).
            contract = yield from secdef.with_contract_rules(state, hit)
            self._rules_skipped.discard(key)
            self._store(key, contract, self._rolls.get(key))
            return contract
        roll: dt.date | None = None
        if sec_type == "STK":
            contract = (yield from stocks_op(state, [sym], d))[sym]
        elif sec_type == "OPT":
            contract = yield from option_op(state, sym, d)
        elif sec_type == "CASH":
            contract = yield from forex_op(sym)
        elif sec_type == "FUT":
            contract, roll = yield from future_op(state, sym, d, self.today)
        else:
            contract = yield from bond_op(state, sym, d)
        if rules and contract.rules_source is None:
            contract = yield from secdef.with_contract_rules(state, contract)
        elif contract.rules_source is None:
            self._rules_skipped.add(key)
        else:
            self._rules_skipped.discard(key)
        self._store(key, contract, roll)
        return contract

    def _many_op(
        self, state: effects.SessionState, symbols: Sequence[str], details: Mapping[str, Any] | None
    ) -> effects.Op[dict[str, m.IBKRContract]]:
        d = _details(details)
        clean = list(dict.fromkeys(secdef.clean_symbol(s) for s in symbols))
        out: dict[str, m.IBKRContract] = {}
        missing: list[str] = []
        for sym in clean:
            hit = self._cached(cache_key("STK", sym, d))
            if hit is None:
                missing.append(sym)
            else:
                out[sym] = hit
        if missing:
            found = yield from stocks_op(state, missing, d)
            for sym, contract in found.items():
                self._store(cache_key("STK", sym, d), contract)
                out[sym] = contract
        return {sym: out[sym] for sym in clean}

    def _resolve_steps(
        self, symbol: str, asset_type: str, details: Mapping[str, Any] | None, rules: bool
    ) -> Steps[m.IBKRContract]:
        yield from self._warm([self._key(symbol, asset_type, details)])
        try:
            op = self._op(self.client.state, symbol, asset_type, details, rules)
            contract: m.IBKRContract = yield call(self.client.run, op)
        finally:
            yield from self._save()
        return contract

    def _stocks_steps(
        self, symbols: Sequence[str], details: Mapping[str, Any] | None
    ) -> Steps[dict[str, m.IBKRContract]]:
        yield from self._warm([self._key(s, "STK", details) for s in symbols])
        try:
            found: dict[str, m.IBKRContract] = yield call(
                self.client.run, self._many_op(self.client.state, symbols, details)
            )
        finally:
            yield from self._save()
        return found

    def _warm(self, keys: Sequence[str]) -> Steps[None]:
        """Copy the persistent cache's entries for ``keys`` into the in-memory front."""
        cache = self.cache
        missing = [key for key in dict.fromkeys(keys) if self.memory.get(key) is None]
        if cache is None or not missing:
            return
        hits = yield blocking(_read_cache, cache, missing)
        for key, hit in hits:
            if hit is not None:
                self.memory.put(key, hit, expires_at(hit))

    def _save(self) -> Steps[None]:
        """Write what the operation resolved to the persistent cache."""
        cache, unsaved = self.cache, self._unsaved
        if cache is None or not unsaved:
            return
        self._unsaved = []
        yield blocking(_write_cache, cache, unsaved)


def _read_cache(cache: ContractCache, keys: Sequence[str]) -> list[tuple[str, m.IBKRContract | None]]:
    return [(key, cache.get(key)) for key in keys]


def _write_cache(
    cache: ContractCache, entries: Sequence[tuple[str, m.IBKRContract, dt.datetime | None]]
) -> None:
    for key, contract, when in entries:
        cache.put(key, contract, when)


class ContractResolver(_ResolverBase[IBKRClient]):
    """Resolver over a synchronous :class:`IBKRClient` (the steps run in the calling thread)."""

    def resolve(
        self,
        symbol: str,
        asset_type: str = "stock",
        details: Mapping[str, Any] | None = None,
        *,
        rules: bool = True,
    ) -> m.IBKRContract:
        """The contract; with IBKR's rules for it unless ``rules=False`` (quotes, watchlists)."""
        return run_steps(self._resolve_steps(symbol, asset_type, details, rules))

    def resolve_stocks(
        self, symbols: Sequence[str], details: Mapping[str, Any] | None = None
    ) -> dict[str, m.IBKRContract]:
        """Many US stocks at once: one request per 100 symbols cold, none warm."""
        return run_steps(self._stocks_steps(symbols, details))


class AsyncContractResolver(_ResolverBase[AsyncIBKRClient]):
    """Resolver over an :class:`AsyncIBKRClient` (the cache reads and writes in a worker thread)."""

    async def resolve(
        self,
        symbol: str,
        asset_type: str = "stock",
        details: Mapping[str, Any] | None = None,
        *,
        rules: bool = True,
    ) -> m.IBKRContract:
        """The contract; with IBKR's rules for it unless ``rules=False`` (quotes, watchlists)."""
        return await arun_steps(self._resolve_steps(symbol, asset_type, details, rules))

    async def resolve_stocks(
        self, symbols: Sequence[str], details: Mapping[str, Any] | None = None
    ) -> dict[str, m.IBKRContract]:
        """Many US stocks at once: one request per 100 symbols cold, none warm."""
        return await arun_steps(self._stocks_steps(symbols, details))
