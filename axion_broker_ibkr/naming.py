"""Contracts named in full, the way a trader reads them (one function, used everywhere on the page).

``describe_contract`` accepts an ``IBKRContract`` or any mapping with the same field names
(the host contract dict, a live-order / position row). Unknown parts are left out, never
printed as ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from axion_broker_ibkr.models import IBKRContract

__all__ = ["describe_contract", "describe_row"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _fields(contract: IBKRContract | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(contract, IBKRContract):
        return contract.to_host()
    data = dict(contract)
    # Tolerate the wire spellings of rows that are not contract dicts.
    aliases = {
        "sec_type": ("secType", "assetClass", "asset_class"),
        "symbol": ("ticker", "contractDesc"),
        "expiry": ("expiry_full", "maturityDate", "lastTradeDateOrContractMonth"),
        "local_symbol": ("localSymbol",),
        "multiplier": ("mult",),
        "right": ("putOrCall",),
    }
    for key, names in aliases.items():
        if data.get(key) in (None, ""):
            for name in names:
                if data.get(name) not in (None, ""):
                    data[key] = data[name]
                    break
    return data


def _date(value: Any) -> str | None:
    text = "".join(ch for ch in str(value or "") if ch.isdigit())
    if len(text) >= 8:
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
    return None


def _number(value: Any) -> str:
    number = float(value)
    return f"{number:g}" if number != int(number) else str(int(number))


def describe_contract(contract: IBKRContract | Mapping[str, Any]) -> str:
    """A contract in full.

    ``AAPL 2027-01-15 185 P``, ``ES Dec 2026 (ESZ6)``, ``IBM 3.3% 2029-05-15 (CUSIP)``, ``EUR.USD``, ``AAPL``.
    """
    data = _fields(contract)
    sec_type = str(data.get("sec_type") or "").upper()
    symbol = str(data.get("symbol") or "").strip()
    local = str(data.get("local_symbol") or "").strip()
    currency = str(data.get("currency") or "").strip()
    if sec_type in ("OPT", "FOP"):
        parts = [symbol]
        expiry = _date(data.get("expiry"))
        if expiry:
            parts.append(expiry)
        if data.get("strike") not in (None, ""):
            parts.append(_number(data["strike"]))
        right = str(data.get("right") or "").upper()[:1]
        if right in ("C", "P"):
            parts.append(right)
        mult = data.get("multiplier")
        if mult not in (None, "") and float(mult) != 100:
            parts.append(f"x{_number(mult)}")
        return " ".join(p for p in parts if p)
    if sec_type == "FUT":
        expiry = "".join(ch for ch in str(data.get("expiry") or "") if ch.isdigit())
        name = symbol
        if len(expiry) >= 6 and 1 <= int(expiry[4:6]) <= 12:
            name = f"{symbol} {_MONTHS[int(expiry[4:6]) - 1]} {expiry[:4]}"
        return f"{name} ({local})" if local and local != symbol else name
    if sec_type == "BOND":
        # By its ticker, as IBKR names bonds ("IBM 3.3 05/15/29"): the same on every surface,
        # whether the contract carries the issuer's long name, IBKR's issuer id (e1400789) or none.
        issuer = str(data.get("issuer") or "").strip()
        if symbol:
            issuer = symbol.split()[0]
        elif _ISSUER_ID.fullmatch(issuer):
            issuer = ""
        text = str(data.get("description") or "").strip().upper()
        bond = _BOND_RE.search(text) if text else None
        if bond and data.get("coupon") in (None, ""):  # IBKR's "IBM 3.3 05/15/29" gives the coupon
            data["coupon"] = _coupon(bond.group(1))
        parts = [issuer]
        if data.get("coupon") not in (None, ""):
            parts.append(f"{_number(data['coupon'])}%")
        maturity = _date(data.get("maturity") or data.get("expiry"))
        if maturity:
            parts.append(maturity)
        cusip = str(data.get("cusip") or "").strip()
        if not cusip and _SECURITY_ID.fullmatch(local.upper()):  # a CUSIP / ISIN as the local symbol
            cusip = local
        name = " ".join(p for p in parts if p)
        return f"{name} ({cusip})" if cusip else name
    if sec_type in ("CASH", "FX"):
        if "." in symbol:
            return symbol
        if symbol and currency and symbol != currency:
            return f"{symbol}.{currency}"
        return symbol or local
    return symbol or local or str(data.get("conid") or "")


_MON = {m.upper(): i for i, m in enumerate(_MONTHS, start=1)}
_ISSUER_ID = re.compile(r"e\d+")
#: A CUSIP (9 characters) or an ISIN (2-letter country, 9 characters, check digit); one digit at
#: least. The resolver's local symbol of a bond is its description (``IBM 3.3 05/15/29``): no id.
_SECURITY_ID = re.compile(r"(?=[A-Z0-9]*\d)(?:[A-Z0-9]{9}|[A-Z]{2}[A-Z0-9]{9}\d)")
# IBKR's description texts (``description2`` of live orders, ``contractDesc`` of positions):
# ``JAN 05 '24 195 Put``, ``DEC 18 '26``, ``T 4 1/4 11/15/34`` / ``IBM 3.3 05/15/29``.
_DAY_RE = re.compile(r"\b([A-Z]{3}) (\d{1,2}) '(\d{2})\b")
_OPT_RE = re.compile(r"'\d{2} (\d+(?:\.\d+)?) (Call|Put|C|P)\b", re.IGNORECASE)
_BOND_RE = re.compile(r"(\d+(?:\.\d+)?(?: \d+/\d+)?) (\d{2})/(\d{2})/(\d{2})\s*$")


def _coupon(text: str) -> float:
    whole, _, frac = text.partition(" ")
    value = float(whole)
    if frac:
        num, _, den = frac.partition("/")
        value += float(num) / float(den)
    return value


def describe_row(sec_type: str | None, symbol: str | None, text: str | None = None, **known: Any) -> str:
    """A contract in full from a row that names it in IBKR's own text (live orders' ``description2``,
    positions' ``contractDesc``): the expiry, strike, right and coupon read from that text fill
    what the row's own fields (``known``: expiry, strike, right, multiplier, currency, ...) lack."""
    data: dict[str, Any] = {k: v for k, v in known.items() if v not in (None, "")}
    data["sec_type"] = (sec_type or "").upper()
    data["symbol"] = symbol or ""
    desc = (text or "").strip().upper()
    kind = data["sec_type"]
    if kind in ("OPT", "FOP", "FUT") and desc and not data.get("expiry"):
        day = _DAY_RE.search(desc)
        if day and day.group(1) in _MON:
            data["expiry"] = f"20{day.group(3)}{_MON[day.group(1)]:02d}{int(day.group(2)):02d}"
    if kind in ("OPT", "FOP") and desc:
        opt = _OPT_RE.search(desc)
        if opt:
            data.setdefault("strike", float(opt.group(1)))
            data.setdefault("right", opt.group(2)[:1].upper())
        if not data.get("strike"):  # positions carry strike 0.0 for what is not an option
            data.pop("strike", None)
    if kind == "BOND" and desc:
        bond = _BOND_RE.search(desc)
        if bond:
            data.setdefault("coupon", _coupon(bond.group(1)))
            data.setdefault("maturity", f"20{bond.group(4)}{bond.group(2)}{bond.group(3)}")
    if kind != "OPT" and kind != "FOP":
        data.pop("strike", None)
    return describe_contract(data)


def bond_description(issuer: str, coupon: float | None, maturity: str | None) -> str | None:
    """A bond's description form, ``IBM 3.3 05/15/29`` (issuer, coupon, maturity ``YYYYMMDD`` as
    MM/DD/YY), or ``None`` without a maturity: the form IBKR's bond search and the order log use."""
    if not maturity or len(maturity) != 8:
        return None
    return f"{issuer} {coupon or 0:g} {maturity[4:6]}/{maturity[6:8]}/{maturity[2:4]}"
