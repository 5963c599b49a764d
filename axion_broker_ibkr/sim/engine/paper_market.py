"""The paper market: a seeded random walk over the universe, quotes and snapshot formatting.

Options are priced from their underlying (Black-Scholes at a fixed volatility), everything else
walks on its own. Bid/ask straddle the last price by a spread of whole ticks; the displayed sizes
limit how much one tick of the market can fill (larger orders fill partially).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from .clock import SimClock
from .universe import Instrument, Universe

#: Volatility of the walk per square root of a simulated second, by security type. Stocks move
#: ~1 % in a simulated hour; a single step is capped at one hour so big clock jumps stay sane.
VOL_PER_SQRT_S = {"STK": 0.00017, "CASH": 0.00005, "FUT": 0.00015, "BOND": 0.00002, "IND": 0.00015}
MAX_STEP_S = 3600.0
OPTION_VOL = 0.30
RISK_FREE = 0.04


@dataclass
class Quote:
    last: float
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last_size: float
    volume: float
    open: float
    high: float
    low: float
    prior_close: float
    updated_ms: int


def round_to_tick(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 10)


def decimals_for(inst: Instrument) -> int:
    if inst.sec_type == "CASH":
        return 3 if inst.currency == "JPY" else 5
    if inst.sec_type == "BOND":
        return 3
    digits = max(0, -math.floor(math.log10(inst.tick) + 1e-9))
    return max(2, digits)


def fmt_price(inst: Instrument, value: float) -> str:
    return f"{value:.{decimals_for(inst)}f}"


def fmt_size(value: float) -> str:
    """Sizes as IBKR shows them: thousands separators, no decimals for whole numbers."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def fmt_volume(value: float) -> str:
    """Field 87: ``1.2M``, ``345K``, ``980``."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.2f}M".replace(".00M", "M")
    if value >= 1_000:
        return f"{value / 1_000:.1f}K".replace(".0K", "K")
    return f"{int(value)}"


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def black_scholes(spot: float, strike: float, years: float, right: str, vol: float = OPTION_VOL) -> float:
    if years <= 0 or spot <= 0:
        return max(0.0, spot - strike) if right == "C" else max(0.0, strike - spot)
    sq = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + (RISK_FREE + vol * vol / 2) * years) / sq
    d2 = d1 - sq
    if right == "C":
        return spot * _norm_cdf(d1) - strike * math.exp(-RISK_FREE * years) * _norm_cdf(d2)
    return strike * math.exp(-RISK_FREE * years) * _norm_cdf(-d2) - spot * _norm_cdf(-d1)


class Market:
    """Prices of every instrument; ``step`` advances the walk by ``dt`` simulated seconds."""

    def __init__(self, universe: Universe, clock: SimClock, seed: int) -> None:
        self.universe = universe
        self.clock = clock
        self.seed = seed
        self.rng = random.Random(seed)
        self.quotes: dict[int, Quote] = {}
        self.frozen: set[int] = set()
        self.paused = False
        self.listeners: list[Callable[[], None]] = []
        now = clock.now_ms()
        for inst in universe.all():
            if inst.sec_type == "OPT":
                continue
            # Start a little away from the file's reference price, reproducibly per seed.
            start = round_to_tick(inst.price * (1 + self.rng.uniform(-0.01, 0.01)), inst.tick)
            quote = Quote(
                start,
                start,
                start,
                0,
                0,
                0,
                0,
                start,
                start,
                start,
                round_to_tick(inst.price, inst.tick),
                now,
            )
            quote.volume = float(self.rng.randint(50, 500) * self._lot(inst))
            self._requote(inst, quote)
            self.quotes[inst.conid] = quote

    # -- walking ------------------------------------------------------------------------------

    @staticmethod
    def _lot(inst: Instrument) -> float:
        return {"STK": 100.0, "CASH": 100_000.0, "BOND": 10_000.0}.get(inst.sec_type, 1.0)

    def _requote(self, inst: Instrument, q: Quote) -> None:
        spread_ticks = max(1, round(q.last * (0.0002 if inst.sec_type != "BOND" else 0.001) / inst.tick))
        half = spread_ticks * inst.tick / 2
        q.bid = round_to_tick(q.last - half, inst.tick)
        q.ask = round_to_tick(max(q.last + half, q.bid + inst.tick), inst.tick)
        lot = self._lot(inst)
        q.bid_size = float(self.rng.randint(1, 30) * lot)
        q.ask_size = float(self.rng.randint(1, 30) * lot)

    def step(self, dt_s: float) -> None:
        """Advance every walking instrument by ``dt_s`` simulated seconds.

        Liquidity taken by fills (displayed size at zero) comes back on every step, also while
        the walk is paused or a price is frozen.
        """
        self._replenish()
        if self.paused or dt_s <= 0:
            return
        dt_s = min(dt_s, MAX_STEP_S)
        now = self.clock.now_ms()
        for conid, q in self.quotes.items():
            if conid in self.frozen:
                continue
            inst = self.universe.by_conid[conid]
            vol = VOL_PER_SQRT_S.get(inst.sec_type, 0.0001)
            pull = -0.0005 * math.log(q.last / inst.price) if q.last > 0 and inst.price > 0 else 0.0
            move = pull + vol * math.sqrt(dt_s) * self.rng.gauss(0.0, 1.0)
            new = round_to_tick(max(inst.tick, q.last * math.exp(move)), inst.tick)
            self._trade(inst, q, new, now)

    def _replenish(self) -> None:
        for conid, q in self.quotes.items():
            if q.bid_size <= 0 or q.ask_size <= 0:
                lot = self._lot(self.universe.by_conid[conid])
                q.bid_size = q.bid_size or float(self.rng.randint(1, 30) * lot)
                q.ask_size = q.ask_size or float(self.rng.randint(1, 30) * lot)

    def _trade(self, inst: Instrument, q: Quote, price: float, now: int) -> None:
        q.last = price
        q.high = max(q.high, price)
        q.low = min(q.low, price)
        q.last_size = float(self.rng.randint(1, 10) * self._lot(inst))
        q.volume += q.last_size
        q.updated_ms = now
        self._requote(inst, q)

    def set_price(self, conid: int, price: float, freeze: bool = False) -> None:
        inst = self.universe.by_conid[conid]
        if inst.sec_type == "OPT":
            raise ValueError("conid: options are priced from their underlying; set the underlying's price")
        q = self.quotes[conid]
        self._trade(inst, q, round_to_tick(price, inst.tick), self.clock.now_ms())
        if freeze:
            self.frozen.add(conid)
        else:
            self.frozen.discard(conid)

    # -- reading ------------------------------------------------------------------------------

    def quote(self, conid: int) -> Quote:
        inst = self.universe.by_conid[conid]
        if inst.sec_type != "OPT":
            return self.quotes[conid]
        und = self.quotes[inst.underlying_conid or 0]
        years = max(
            0.0,
            ((inst.expiry.toordinal() if inst.expiry else 0) - self.clock.today().toordinal() + 0.5) / 365,
        )
        value = max(0.01, black_scholes(und.last, inst.strike or 0.0, years, inst.right or "C"))
        last = round_to_tick(value, 0.01)
        half = max(0.01, round_to_tick(value * 0.01, 0.01))
        bid = round_to_tick(max(0.0, last - half), 0.01)
        return Quote(
            last=last,
            bid=bid,
            ask=round_to_tick(last + half, 0.01),
            bid_size=float(10 + conid % 40),
            ask_size=float(10 + conid % 37),
            last_size=1.0,
            volume=float(100 + conid % 5000),
            open=last,
            high=last,
            low=last,
            prior_close=last,
            updated_ms=und.updated_ms,
        )

    def last(self, conid: int) -> float:
        return self.quote(conid).last

    def fx_rate(self, currency: str, base: str = "USD") -> float:
        """Units of ``base`` for one unit of ``currency`` (the ledger's ``exchangerate``)."""
        if currency == base:
            return 1.0
        for inst in self.universe.forex_pairs():
            first, second = inst.symbol.split(".")
            if first == currency and second == base:
                return self.quotes[inst.conid].last
            if first == base and second == currency:
                return 1.0 / self.quotes[inst.conid].last
        raise KeyError(f"no FX pair for {currency}/{base}")
