"""The instrument universe: package data (``data/instruments.json``) plus generated derivatives.

Stocks, forex pairs and bonds are listed in the JSON file. Option chains and futures are generated
from rules in the same file relative to a reference date (the simulator's clock), so their expiries
are always in the future; their conids come from a stable hash of the contract's identity, so the
same contract always has the same conid.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import zlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
US_STOCK_EXCHANGES = (
    "SMART,AMEX,NYSE,CBOE,PHLX,ISE,CHX,ARCA,ISLAND,DRCTEDGE,BEX,BATS,EDGEA,BYX,IEX,EDGX,PEARL,"
    "NYSENAT,LTSE,MEMX,IBEOS,OVERNIGHT,PSX"
)
US_OPTION_EXCHANGES = (
    "SMART;AMEX;BATS;BOX;CBOE;CBOE2;EDGX;EMERALD;GEMINI;IBUSOPT;ISE;MEMX;MERCURY;MIAX;PEARL;PHLX;PSE"
)


def stable_conid(*parts: object, base: int = 600_000_000) -> int:
    """A conid for a generated contract: stable across runs, in a range real examples do not use."""
    key = "|".join(str(p) for p in parts).encode()
    return base + zlib.crc32(key) % 300_000_000


def month_code(day: dt.date) -> str:
    """``2024-10-18`` -> ``OCT24`` (IBKR's ``MMMYY``)."""
    return f"{MONTHS[day.month - 1]}{day.year % 100:02d}"


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 14)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    total = year * 12 + (month - 1) + n
    return total // 12, total % 12 + 1


def _business_day_before(day: dt.date, n: int) -> dt.date:
    while n > 0:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


@dataclass
class Instrument:
    """One tradable contract. Prices of bonds are in percent of par; ``multiplier`` scales value."""

    conid: int
    symbol: str
    sec_type: str  # STK, OPT, CASH, FUT, BOND, IND
    currency: str
    exchange: str  # primary/listing exchange (IDEALPRO, CME, NASDAQ ...)
    listing_exchange: str
    name: str
    price: float  # initial price
    tick: float = 0.01
    multiplier: float = 1.0
    expiry: dt.date | None = None
    last_trading_day: dt.date | None = None
    strike: float | None = None
    right: str | None = None
    underlying_conid: int | None = None
    industry: str = ""
    category: str = ""
    stock_type: str = "COMMON"
    country: str = "US"
    chinese_name: str | None = None
    issuer_id: str | None = None
    coupon: float | None = None
    cusip: str | None = None
    issue_date: dt.date | None = None
    cutoff: dt.date | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_us(self) -> bool:
        return self.country == "US"

    @property
    def valid_exchanges(self) -> str:
        if self.sec_type == "STK" and self.is_us:
            return US_STOCK_EXCHANGES
        if self.sec_type == "OPT":
            return US_OPTION_EXCHANGES.replace(";", ",")
        if self.sec_type == "CASH":
            return "IDEALPRO"
        if self.sec_type == "BOND":
            return "SMART"
        return f"SMART,{self.exchange}" if self.sec_type == "STK" else self.exchange

    @property
    def local_symbol(self) -> str:
        if self.sec_type == "OPT" and self.expiry and self.strike is not None and self.right:
            strike = f"{round(self.strike * 1000):08d}"
            return f"{self.symbol:<6}{self.expiry:%y%m%d}{self.right}{strike}"
        if self.sec_type == "FUT" and "contract_month" in self.extra and self.contract_month is not None:
            month = self.contract_month
            return f"{self.symbol}{'FGHJKMNQUVXZ'[month.month - 1]}{month.year % 10}"
        return self.symbol

    @property
    def contract_month(self) -> dt.date | None:
        """A future's contract month (its first day; ``extra["contract_month"]`` is ``YYYYMM``),
        else the expiry."""
        text = str(self.extra.get("contract_month", ""))
        if len(text) == 6:
            return dt.date(int(text[:4]), int(text[4:]), 1)
        return self.expiry

    @property
    def description(self) -> str:
        """``desc2``-style text: ``JAN 05 '24 195 Put``, ``DEC 20 '24``, ``T 4 1/4 11/15/34``."""
        if self.sec_type == "OPT" and self.expiry:
            right = "Call" if self.right == "C" else "Put"
            strike = f"{self.strike:g}"
            return f"{MONTHS[self.expiry.month - 1]} {self.expiry:%d} '{self.expiry:%y} {strike} {right}"
        if self.sec_type == "FUT" and self.expiry:
            return f"{MONTHS[self.expiry.month - 1]} {self.expiry:%d} '{self.expiry:%y}"
        if self.sec_type == "BOND" and self.expiry:
            return f"{self.symbol} {self.coupon:g} {self.expiry:%m/%d/%y}"
        return self.name

    @property
    def contract_desc(self) -> str:
        """``contractDesc`` of positions: ``AAPL``, ``AAPL JAN2024 195 P [...]``, ``ES DEC24``."""
        if self.sec_type in {"OPT", "FUT", "BOND"}:
            return f"{self.symbol} {self.description}"
        return self.symbol


def _listed(record: dict[str, Any], sec_type: str, **terms: Any) -> Instrument:
    """A stock or future of ``instruments.json``: its record's symbol, currency, name and price."""
    return Instrument(
        symbol=record["symbol"],
        sec_type=sec_type,
        currency=record["currency"],
        name=record["name"],
        price=record["price"],
        **terms,
    )


class Universe:
    """Every instrument the simulator knows, generated for ``reference_date``."""

    def __init__(self, reference_date: dt.date, raw: dict[str, Any] | None = None) -> None:
        self.raw: dict[str, Any] = raw if raw is not None else load_raw()
        self.reference_date = reference_date
        self.by_conid: dict[int, Instrument] = {}
        self.issuers: dict[str, dict[str, str]] = {i["id"]: i for i in self.raw["bond_issuers"]}
        self.futures_specs: dict[str, dict[str, Any]] = {f["symbol"]: f for f in self.raw["futures"]}
        self._build()

    # -- construction -----------------------------------------------------------------------

    def _add(self, inst: Instrument) -> None:
        if inst.conid in self.by_conid:
            raise ValueError(f"duplicate conid {inst.conid} ({inst.symbol})")
        self.by_conid[inst.conid] = inst

    def _build(self) -> None:
        for s in self.raw["stocks"]:
            self._add(
                _listed(
                    s,
                    "STK",
                    conid=s["conid"],
                    exchange=s["exchange"],
                    listing_exchange=s["listing_exchange"],
                    industry=s["industry"],
                    category=s["category"],
                    stock_type=s["type"],
                    country=s["country"],
                    chinese_name=s.get("chinese_name"),
                )
            )
        for f in self.raw["forex"]:
            base, quote = f["symbol"].split(".")
            self._add(
                Instrument(
                    conid=f["conid"],
                    symbol=f["symbol"],
                    sec_type="CASH",
                    currency=quote,
                    exchange="IDEALPRO",
                    listing_exchange="IDEALPRO",
                    name=f"{base}.{quote}",
                    price=f["rate"],
                    tick=0.005 if quote == "JPY" else 0.00005,
                    country="",
                    extra={"base": base},
                )
            )
        for b in self.raw["bonds"]:
            issuer = self.issuers[b["issuer_id"]]
            self._add(
                Instrument(
                    conid=b["conid"],
                    symbol=b["symbol"],
                    sec_type="BOND",
                    currency=b["currency"],
                    exchange="SMART",
                    listing_exchange="SMART",
                    name=issuer["name"],
                    price=b["price"],
                    tick=0.001,
                    multiplier=0.01,  # quantity is face value, price is percent of par
                    expiry=_parse_date(b["maturity"]),
                    issuer_id=b["issuer_id"],
                    coupon=b["coupon"],
                    cusip=b["cusip"],
                    issue_date=_parse_date(b["issue"]),
                    extra={"kind": b["kind"]},
                )
            )
        for opt in self.raw["options"]:
            self._build_options(opt)
        for fut in self.raw["futures"]:
            self._build_futures(fut, self.reference_date)

    def _build_options(self, spec: dict[str, Any]) -> None:
        und = self.stock(spec["underlying"])
        ref = self.reference_date
        expiries: set[dt.date] = set()
        friday = ref + dt.timedelta(days=(4 - ref.weekday()) % 7 or 7)
        for i in range(spec["weeklies"]):
            expiries.add(friday + dt.timedelta(weeks=i))
        year, month = ref.year, ref.month
        while len([e for e in expiries if e == third_friday(e.year, e.month)]) < spec["monthlies"]:
            tf = third_friday(year, month)
            if tf > ref:
                expiries.add(tf)
            year, month = _add_months(year, month, 1)
        step = float(spec["strike_step"])
        atm = round(und.price / step) * step
        strikes = [atm + step * k for k in range(-spec["strikes_each_side"], spec["strikes_each_side"] + 1)]
        for expiry in sorted(expiries):
            for strike in strikes:
                for right in ("C", "P"):
                    self._add(
                        Instrument(
                            conid=stable_conid("OPT", und.symbol, expiry.isoformat(), strike, right),
                            symbol=und.symbol,
                            sec_type="OPT",
                            currency=und.currency,
                            exchange="SMART",
                            listing_exchange=und.listing_exchange,
                            name=und.name,
                            price=0.0,  # priced from the underlying
                            multiplier=100.0,
                            expiry=expiry,
                            last_trading_day=expiry,
                            strike=strike,
                            right=right,
                            underlying_conid=und.conid,
                            industry=und.industry,
                            category=und.category,
                        )
                    )

    def _build_futures(self, spec: dict[str, Any], ref: dt.date) -> None:
        """Generate ``count`` live contracts plus the most recently expired one (for roll tests)."""
        cycle = {
            "quarterly": (3, 6, 9, 12),
            "bimonthly": (2, 4, 6, 8, 10, 12),
            "monthly": tuple(range(1, 13)),
        }
        months = cycle[spec["cycle"]]
        year, month = ref.year, ref.month
        year, month = _add_months(year, month, -3)
        for _ in range(spec["count"] * 12 // len(months) * 3 + 12):
            if month in months:
                expiry = _futures_expiry(spec["cycle"], year, month)
                # Equity index futures stop trading the day before the final settlement (ES: the
                # Thursday before the third Friday, as in examples/trsrv_futures.json).
                ltd = (
                    expiry - dt.timedelta(days=1)
                    if spec["cycle"] == "quarterly" and spec["symbol"] != "6E"
                    else expiry
                )
                self._add(
                    _listed(
                        spec,
                        "FUT",
                        conid=stable_conid("FUT", spec["symbol"], f"{year}{month:02d}", base=490_000_000),
                        exchange=spec["exchange"],
                        listing_exchange=spec["exchange"],
                        tick=spec["tick"],
                        multiplier=float(spec["multiplier"]),
                        expiry=expiry,
                        last_trading_day=ltd,
                        underlying_conid=spec["underlying_conid"],
                        cutoff=_business_day_before(ltd, spec["cutoff_days"]),
                        extra={"contract_month": f"{year}{month:02d}"},
                    )
                )
            year, month = _add_months(year, month, 1)

    # -- lookups ------------------------------------------------------------------------------

    def get(self, conid: int) -> Instrument | None:
        return self.by_conid.get(conid)

    def stock(self, symbol: str, us_only: bool = True) -> Instrument:
        for inst in self.by_conid.values():
            if inst.sec_type == "STK" and inst.symbol == symbol and (inst.is_us or not us_only):
                return inst
        raise KeyError(symbol)

    def stocks_by_symbol(self, symbol: str) -> list[Instrument]:
        return [i for i in self.by_conid.values() if i.sec_type == "STK" and i.symbol == symbol.upper()]

    def options_of(self, underlying: int, today: dt.date | None = None) -> list[Instrument]:
        """Options on ``underlying``; with ``today``, only those not yet expired."""
        return [
            i
            for i in self.by_conid.values()
            if i.sec_type == "OPT"
            and i.underlying_conid == underlying
            and (today is None or (i.expiry is not None and i.expiry >= today))
        ]

    def futures_of(self, symbol: str, today: dt.date) -> list[Instrument]:
        """The listed (non-expired) futures of ``symbol`` by expiry; the last trading day is live."""
        spec = self.futures_specs.get(symbol)
        if spec is None:
            return []
        live = [
            i
            for i in self.by_conid.values()
            if i.sec_type == "FUT"
            and i.symbol == symbol
            and i.last_trading_day
            and i.last_trading_day >= today
        ]
        return sorted(live, key=lambda i: i.expiry or dt.date.max)[: int(spec["count"])]

    def futures_by_underlying(self, underlying: int, today: dt.date) -> list[Instrument]:
        for symbol, spec in self.futures_specs.items():
            if spec["underlying_conid"] == underlying:
                return self.futures_of(symbol, today)
        return []

    def bonds_of(self, issuer_id: str) -> list[Instrument]:
        return sorted(
            (i for i in self.by_conid.values() if i.sec_type == "BOND" and i.issuer_id == issuer_id),
            key=lambda i: i.conid,
        )

    def issuers_for(self, symbol: str) -> list[dict[str, str]]:
        return [i for i in self.issuers.values() if i["symbol"] == symbol.upper()]

    def forex_pairs(self) -> list[Instrument]:
        return [i for i in self.by_conid.values() if i.sec_type == "CASH"]

    def all(self) -> list[Instrument]:
        return list(self.by_conid.values())


def _futures_expiry(cycle: str, year: int, month: int) -> dt.date:
    if cycle == "quarterly":
        return third_friday(year, month)
    if cycle == "monthly":
        # CL-style: trading ends a few business days before the 25th of the month before delivery;
        # the contract is labelled by its delivery month.
        py, pm = _add_months(year, month, -1)
        return _business_day_before(dt.date(py, pm, 25), 3)
    last = dt.date(year, month, calendar.monthrange(year, month)[1])
    return _business_day_before(last, 2)


def _parse_date(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y%m%d").date()


def load_raw() -> dict[str, Any]:
    """The JSON package data."""
    text = (
        resources.files("axion_broker_ibkr.sim.engine").joinpath("data/instruments.json").read_text("utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data
