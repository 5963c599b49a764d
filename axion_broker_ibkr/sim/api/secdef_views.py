"""Contract discovery payloads: secdef search/strikes/info, contract info/rules, trsrv, FX pairs, bonds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..engine.paper_market import Market, fmt_price
from ..engine.universe import MONTHS, US_OPTION_EXCHANGES, Instrument, Universe, month_code, stable_conid

__all__ = ["month_code"]

BOND_PLACEHOLDER_CONID = "2147483647"


def _search_stock(universe: Universe, inst: Instrument, reduced: bool, today: dt.date) -> dict[str, Any]:
    options = sorted({o.expiry for o in universe.options_of(inst.conid, today) if o.expiry})
    out: dict[str, Any] = {
        "conid": str(inst.conid),
        "companyHeader": f"{inst.name} - {inst.exchange}",
        "companyName": inst.name,
        "symbol": inst.symbol,
        "description": inst.exchange,
        "restricted": None,
        "fop": None,
        "opt": ";".join(d.strftime("%Y%m%d") for d in options) or None,
        "war": None,
    }
    if reduced:  # name=true answers a reduced record without sections
        return out
    sections: list[dict[str, Any]] = [{"secType": "STK"}]
    if options:
        months = sorted({(d.year, d.month) for d in options})
        sections.append(
            {
                "secType": "OPT",
                "months": ";".join(f"{MONTHS[m - 1]}{y % 100:02d}" for y, m in months),
                "exchange": US_OPTION_EXCHANGES,
            }
        )
    if options and inst.is_us:
        # Derivatives-capable US underlyings also list a CFD with its own conid (REFERENCE §3.2);
        # the simulator does not trade CFDs, the section is there so clients learn to skip it.
        sections.append(
            {"secType": "CFD", "exchange": "SMART", "conid": str(stable_conid("CFD", inst.conid))}
        )
    out["sections"] = sections
    return out


def _search_future_underlying(universe: Universe, spec: dict[str, Any], today: dt.date) -> dict[str, Any]:
    live = universe.futures_of(spec["symbol"], today)
    months = ";".join(month_code(f.contract_month) for f in live if f.contract_month is not None)
    return {
        "conid": str(spec["underlying_conid"]),
        "companyHeader": f"{spec['name']} - {spec['exchange']}",
        "companyName": spec["name"],
        "symbol": spec["symbol"],
        "description": spec["exchange"],
        "restricted": None,
        "fop": None,
        "opt": None,
        "war": None,
        "sections": [
            {"secType": "IND", "exchange": spec["exchange"]},
            {"secType": "FUT", "months": months, "exchange": spec["exchange"]},
        ],
    }


def _search_bonds(issuers: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "issuers": [{"id": i["id"], "name": i["name"]} for i in issuers],
        "bondid": 5,
        "conid": BOND_PLACEHOLDER_CONID,
        "companyHeader": issuers[0]["header"],
        "companyName": None,
        "symbol": None,
        "description": None,
        "restricted": None,
        "fop": None,
        "opt": None,
        "war": None,
        "sections": [{"secType": "BOND"}],
    }


def secdef_search(
    universe: Universe, symbol: str, sec_type: str, name: bool, today: dt.date
) -> list[dict[str, Any]]:
    symbol = symbol.strip().upper()
    sec_type = (sec_type or "STK").upper()
    out: list[dict[str, Any]] = []
    if name:
        for inst in universe.all():
            if inst.sec_type == "STK" and symbol in inst.name.upper():
                out.append(_search_stock(universe, inst, reduced=True, today=today))
        return out
    if sec_type in {"STK", ""}:
        stocks = sorted(universe.stocks_by_symbol(symbol), key=lambda i: (not i.is_us, i.conid))
        out.extend(_search_stock(universe, i, reduced=False, today=today) for i in stocks)
    if sec_type in {"FUT", "IND"} or (sec_type == "STK" and not out):
        spec = universe.futures_specs.get(symbol)
        if spec is not None:
            out.append(_search_future_underlying(universe, spec, today))
    if sec_type in {"STK", "BOND"}:
        issuers = universe.issuers_for(symbol)
        if issuers:
            out.append(_search_bonds(issuers))
    return out


def strikes(
    universe: Universe, conid: int, sec_type: str, month: str, today: dt.date
) -> dict[str, list[float]]:
    opts = [
        o
        for o in universe.options_of(conid, today)
        if o.expiry and month_code(o.expiry) == month.upper() and sec_type == "OPT"
    ]
    return {
        "call": sorted({o.strike or 0.0 for o in opts if o.right == "C"}),
        "put": sorted({o.strike or 0.0 for o in opts if o.right == "P"}),
    }


def info_record(inst: Instrument) -> dict[str, Any]:
    """One element of ``/iserver/secdef/info``. For FUT and BOND the shape is [unconfirmed]; the
    simulator uses the OPT record's keys for every type so a client needs a single parser."""
    return {
        "conid": inst.conid,
        "symbol": inst.symbol,
        "secType": inst.sec_type,
        "exchange": "SMART" if inst.sec_type in {"OPT", "STK", "BOND"} else inst.exchange,
        "listingExchange": None if inst.sec_type == "OPT" else inst.listing_exchange,
        "right": inst.right,
        "strike": float(inst.strike or 0.0),
        "currency": inst.currency,
        "cusip": inst.cusip,
        "coupon": f"{inst.coupon:g}" if inst.coupon is not None else "No Coupon",
        "desc1": inst.symbol,
        "desc2": inst.description,
        "maturityDate": inst.expiry.strftime("%Y%m%d") if inst.expiry else None,
        "multiplier": f"{inst.multiplier:g}" if inst.sec_type in {"OPT", "FUT"} else None,
        "tradingClass": inst.symbol,
        "validExchanges": inst.valid_exchanges,
    }


BOND_FILTER_COLUMNS = (
    (0, "Exchange"),
    (27, "Maturity Date"),
    (28, "Issue Date"),
    (25, "Coupon"),
    (5, "Currency"),
)


def _bond_column_value(inst: Instrument, column: int) -> tuple[str, str | None]:
    """(value, display text) of a bond for a bond-filter column."""
    if column == 0:
        return "SMART", None
    if column == 27 and inst.expiry:
        return inst.expiry.strftime("%Y%m"), inst.expiry.strftime("%b %Y")
    if column == 28 and inst.issue_date:
        return inst.issue_date.strftime("%Y%m%d"), inst.issue_date.strftime("%b %d %Y")
    if column == 25:
        return f"{inst.coupon:g}", None
    return inst.currency, None


def bond_filters(universe: Universe, issuer_id: str) -> dict[str, Any]:
    bonds = universe.bonds_of(issuer_id)
    out = []
    for column, title in BOND_FILTER_COLUMNS:
        seen: dict[str, dict[str, str]] = {}
        for b in bonds:
            value, text = _bond_column_value(b, column)
            seen.setdefault(value, {"text": text, "value": value} if text else {"value": value})
        out.append({"displayText": title, "columnId": column, "options": list(seen.values())})
    return {"bondFilters": out}


def bonds_matching(universe: Universe, issuer_id: str, filters: str | None) -> list[Instrument]:
    """Bonds of an issuer narrowed by ``filters`` = ``columnId:value,...`` [unconfirmed grammar; a
    maturity filter matches on the ``YYYYMM`` prefix, the other columns exactly]."""
    bonds = universe.bonds_of(issuer_id)
    if not filters:
        return bonds
    wanted: list[tuple[int, str]] = []
    for part in filters.split(","):
        column, sep, value = part.partition(":")
        if not sep or not column.strip().isdigit():
            raise ValueError(f"invalid filters element {part!r} (expected columnId:value)")
        wanted.append((int(column), value.strip()))
    return [b for b in bonds if all(_bond_column_value(b, c)[0].startswith(v) for c, v in wanted)]


def contract_info(inst: Instrument) -> dict[str, Any]:
    """``/iserver/contract/{conid}/info`` (snake_case, as the real example)."""
    return {
        "cfi_code": "",
        "symbol": inst.symbol,
        "cusip": inst.cusip,
        "expiry_full": inst.expiry.strftime("%Y%m%d") if inst.expiry and inst.sec_type != "BOND" else None,
        "con_id": inst.conid,
        "maturity_date": inst.expiry.strftime("%Y%m%d") if inst.sec_type == "BOND" and inst.expiry else None,
        "industry": inst.industry or None,
        "instrument_type": inst.sec_type,
        "trading_class": "NMS" if inst.sec_type == "STK" and inst.is_us else inst.symbol,
        "valid_exchanges": inst.valid_exchanges,
        "allow_sell_long": False,
        "is_zero_commission_security": False,
        "local_symbol": inst.local_symbol,
        "contract_clarification_type": None,
        "classifier": None,
        "currency": inst.currency,
        "text": None,
        "underlying_con_id": inst.underlying_conid or 0,
        "r_t_h": True,
        "multiplier": f"{inst.multiplier:g}" if inst.sec_type in {"OPT", "FUT"} else None,
        "underlying_issuer": inst.issuer_id,
        "contract_month": inst.extra.get("contract_month")
        or (inst.expiry.strftime("%Y%m") if inst.expiry else None),
        "company_name": inst.name,
        "smart_available": inst.sec_type != "FUT",
        "exchange": "IDEALPRO"
        if inst.sec_type == "CASH"
        else ("SMART" if inst.sec_type != "FUT" else inst.exchange),
        "category": inst.category or None,
    }


def contract_rules(inst: Instrument, market: Market, accounts: list[str]) -> dict[str, Any]:
    price = market.last(inst.conid)
    size = {"CASH": 20000.0, "BOND": 10000.0}.get(inst.sec_type, 100.0 if inst.sec_type == "STK" else 1.0)
    return {
        "algoEligible": inst.sec_type == "STK",
        "overnightEligible": inst.sec_type == "STK" and inst.is_us,
        "costReport": False,
        "canTradeAcctIds": list(accounts),
        "error": None,
        # IBKR's Midprice order is an equity order type (contract_rules.json, a stock, lists "midprice").
        "orderTypes": [
            t
            for t in (
                "limit",
                "midprice",
                "market",
                "stop",
                "stop_limit",
                "trailing_stop",
                "trailing_stop_limit",
            )
            if t != "midprice" or inst.sec_type == "STK"
        ],
        "ibAlgoTypes": ["limit", "stop_limit", "trailing_stop_limit"],
        "fraqTypes": [],
        "forceOrderPreview": False,
        "cqtTypes": ["limit", "market", "stop", "stop_limit"],
        "orderDefaults": {"LMT": {"LP": fmt_price(inst, price)}},
        "orderTypesOutside": ["limit", "stop_limit"],
        "defaultSize": size,
        "cashSize": 0.0,
        "sizeIncrement": 1 if inst.sec_type != "BOND" else 1000,
        "tifTypes": [
            "IOC/MARKET,LIMIT,RELATIVE,MARKETONCLOSE,MIDPRICE,LIMITONCLOSE,MKT_PROTECT,STPPRT,a",
            "GTC/o,a",
            "OPG/LIMIT,MARKET,a",
            "GTD/o,a",
            "DAY/o,a",
        ],
        "tifDefaults": {"TIF": "DAY", "SIZE": f"{size:.2f}"},
        "limitPrice": price,
        "stopprice": price,
        "orderOrigination": None,
        "preview": True,
        "displaySize": None,
        "fraqInt": 0,
        "cashCcy": inst.currency,
        "cashQtyIncr": 500,
        "priceMagnifier": None,
        "negativeCapable": False,
        "incrementType": 1,
        "incrementRules": [{"lowerEdge": 0.0, "increment": inst.tick}],
        "hasSecondary": True,
        "modTypes": [],
        "increment": inst.tick,
        "incrementDigits": max(0, len(f"{inst.tick:.10f}".rstrip("0").split(".")[1])),
    }


def trsrv_stocks(universe: Universe, symbols: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for symbol in symbols:
        groups: dict[str, dict[str, Any]] = {}
        for inst in sorted(universe.stocks_by_symbol(symbol), key=lambda i: (not i.is_us, i.conid)):
            group = groups.setdefault(
                inst.name,
                {"name": inst.name, "chineseName": inst.chinese_name, "assetClass": "STK", "contracts": []},
            )
            group["contracts"].append({"conid": inst.conid, "exchange": inst.exchange, "isUS": inst.is_us})
        if groups:
            out[symbol] = list(groups.values())
    return out


def trsrv_futures(universe: Universe, symbols: list[str], today: dt.date) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for symbol in symbols:
        live = universe.futures_of(symbol, today)
        if not live and symbol not in universe.futures_specs:
            continue
        out[symbol] = [
            {
                "symbol": f.symbol,
                "conid": f.conid,
                "underlyingConid": f.underlying_conid,
                "expirationDate": int(f.expiry.strftime("%Y%m%d")) if f.expiry else 0,
                "ltd": int(f.last_trading_day.strftime("%Y%m%d")) if f.last_trading_day else 0,
                "shortFuturesCutOff": int(f.cutoff.strftime("%Y%m%d")) if f.cutoff else 0,
                "longFuturesCutOff": int(f.cutoff.strftime("%Y%m%d")) if f.cutoff else 0,
            }
            for f in live
        ]
    return out


def trsrv_secdef(inst: Instrument) -> dict[str, Any]:
    return {
        "conid": inst.conid,
        "currency": inst.currency,
        "time": 0,
        "chineseName": inst.chinese_name,
        "allExchanges": inst.valid_exchanges,
        "listingExchange": inst.listing_exchange,
        "countryCode": inst.country or None,
        "name": inst.name,
        "assetClass": inst.sec_type,
        "expiry": inst.expiry.strftime("%Y%m%d") if inst.expiry else None,
        "lastTradingDay": inst.last_trading_day.strftime("%Y%m%d") if inst.last_trading_day else None,
        "group": inst.industry or None,
        "putOrCall": inst.right,
        "sector": inst.category or None,
        "sectorGroup": inst.category or None,
        "strike": f"{inst.strike:g}" if inst.strike is not None else "0",
        "ticker": inst.symbol,
        "undConid": inst.underlying_conid or 0,
        "multiplier": inst.multiplier if inst.sec_type in {"OPT", "FUT"} else 0.0,
        "type": inst.stock_type if inst.sec_type == "STK" else inst.sec_type,
        "hasOptions": bool(inst.sec_type == "STK" and inst.is_us),
        "fullName": inst.contract_desc,
        "isUS": inst.is_us,
        "incrementRules": [{"lowerEdge": 0.0, "increment": inst.tick}],
        "displayRule": {
            "magnification": 0,
            "displayRuleStep": [{"decimalDigits": 2, "lowerEdge": 0.0, "wholeDigits": 4}],
        },
        "isEventContract": False,
        "pageSize": 100,
    }


def currency_pairs(universe: Universe, currency: str) -> dict[str, list[dict[str, Any]]]:
    currency = currency.upper()
    pairs = [i for i in universe.forex_pairs() if i.symbol.split(".")[0] == currency]
    return {
        currency: [{"symbol": p.symbol, "conid": p.conid, "ccyPair": p.symbol.split(".")[1]} for p in pairs]
    }
