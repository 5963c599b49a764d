"""Paper accounts: cash by currency, positions, realised P&L, margin (the gateway's views of them,
ledger, summary and P&L, are ``sim.api.account_views``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .paper_market import Market
from .universe import Instrument

BASE_CURRENCY = "USD"
ACCOUNT_IDS = ("DU1234567", "DU7654321")
STARTING_CASH = {"DU1234567": {"USD": 1_000_000.0, "EUR": 25_000.0}, "DU7654321": {"USD": 250_000.0}}
#: Positions the first account starts with, so portfolio views have content: (symbol, qty, avg).
STARTING_POSITIONS = {
    "DU1234567": [("SPY", 5.0, 434.93), ("TSLA", 7.0, 221.67142855), ("META", 11.0, 306.6909091)]
}


@dataclass
class Position:
    conid: int
    quantity: float = 0.0
    avg_price: float = 0.0  # per unit, without multiplier
    realized: float = 0.0


@dataclass
class Account:
    account_id: str
    cash: dict[str, float] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    realized: dict[str, float] = field(default_factory=dict)
    commissions: float = 0.0
    start_nlv: float = 0.0

    def apply_fill(self, inst: Instrument, side: str, qty: float, price: float, commission: float) -> float:
        """Book a fill; returns the realised P&L of this fill (in the instrument's currency)."""
        signed = qty if side == "BUY" else -qty
        ccy = inst.currency
        self.commissions += commission
        if inst.sec_type == "CASH":
            # Forex is a cash exchange (the ledger follows; IBKR shows a virtual FX position only
            # when trackVirtualFXPortfolio is set, which the simulator does not model).
            base = str(inst.extra.get("base"))
            self.cash[base] = self.cash.get(base, 0.0) + signed
            self.cash[ccy] = self.cash.get(ccy, 0.0) - signed * price
            self.cash[BASE_CURRENCY] = self.cash.get(BASE_CURRENCY, 0.0) - commission
            return 0.0
        pos = self.positions.setdefault(inst.conid, Position(inst.conid))
        realized = 0.0
        if pos.quantity == 0 or (pos.quantity > 0) == (signed > 0):
            total = pos.quantity + signed
            pos.avg_price = (pos.avg_price * pos.quantity + price * signed) / total
            pos.quantity = total
        else:
            closing = min(abs(signed), abs(pos.quantity))
            direction = 1.0 if pos.quantity > 0 else -1.0
            realized = (price - pos.avg_price) * closing * direction * inst.multiplier
            pos.quantity += signed
            if abs(pos.quantity) < 1e-9:
                pos.quantity = 0.0
                pos.avg_price = 0.0
            elif (pos.quantity > 0) != (direction > 0):
                pos.avg_price = price  # flipped through zero: the rest opens at this price
        pos.realized += realized
        self.realized[ccy] = self.realized.get(ccy, 0.0) + realized
        if inst.sec_type == "FUT":
            self.cash[ccy] = self.cash.get(ccy, 0.0) + realized  # futures settle variation only
        else:
            self.cash[ccy] = self.cash.get(ccy, 0.0) - signed * price * inst.multiplier
        self.cash[ccy] = self.cash.get(ccy, 0.0) - commission
        if pos.quantity == 0:
            self.positions.pop(inst.conid, None)
        return realized


def position_value(market: Market, inst: Instrument, pos: Position) -> tuple[float, float]:
    """(market value, unrealised P&L) in the instrument's currency."""
    price = market.last(inst.conid)
    unrealized = (price - pos.avg_price) * pos.quantity * inst.multiplier
    if inst.sec_type == "FUT":
        return unrealized, unrealized  # futures carry no notional in the ledger
    return price * pos.quantity * inst.multiplier, unrealized


def margin(account: Account, market: Market) -> tuple[float, float]:
    """(initial, maintenance) margin in base currency: 25 % / 20 % of long value, more for shorts."""
    init = maint = 0.0
    for conid, pos in account.positions.items():
        inst = market.universe.by_conid[conid]
        rate = market.fx_rate(inst.currency)
        notional = abs(market.last(conid) * pos.quantity * inst.multiplier) * rate
        if inst.sec_type == "FUT":
            init += notional * 0.06
            maint += notional * 0.05
        else:
            short = pos.quantity < 0
            init += notional * (0.5 if short else 0.25)
            maint += notional * (0.3 if short else 0.2)
    return init, maint
