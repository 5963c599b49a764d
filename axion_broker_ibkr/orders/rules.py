"""The order rules the translator enforces, as data.

Every table here is a decision about what this plugin sends to the Client Portal Web API, with its
source. IBKR's per-contract ``/iserver/contract/rules`` answer stays authoritative at the venue; these
tables only make sure that nothing IBKR does not take is sent, and that nothing is silently changed.

Sources (IBKR's Client Portal Web API reference, whose examples are copied into ``fixtures/cpapi/``):

* §4.1 order ticket: order types ``LMT MKT STP STOP_LIMIT MIDPRICE TRAIL TRAILLMT``; TIFs ``DAY GTC IOC
  OPG`` (``PAX`` crypto only, ``GTD`` only seen in ``rules.tifTypes``, overnight ``OVT``/``OND``);
  ``price``/``auxPrice`` semantics; ``trailingAmt`` + ``trailingType`` (``"amt"`` or ``"%"``).
* ``examples/contract_rules.json``: ``tifTypes`` ``"IOC/MARKET,LIMIT,..."``, ``"OPG/LIMIT,MARKET"``,
  ``"GTC/o"``, ``"DAY/o"`` (``o`` read as "all order types" [unconfirmed]) and ``orderTypesOutside``
  ``limit, stop_limit, lit, trailing_stop_limit, relative`` (what may fill outside regular hours).
* §10: wire codes for market/limit on close (``MOC``/``LOC``) are **[unconfirmed]**, so TIF ``cls``
  is refused (issue 16.3); whether ``GTD`` needs an extra expiry field is **[unconfirmed]**.
"""

from __future__ import annotations

from typing import Final, NamedTuple

#: Security types this translator produces orders for.
SEC_TYPES: Final = frozenset({"STK", "OPT", "CASH", "FUT", "BOND"})

#: Both host vocabularies (HOST_CONTRACT §4) -> IBKR secType.
ASSET_TO_SEC_TYPE: Final[dict[str, str]] = {
    "stock": "STK",
    "stocks": "STK",
    "etf": "STK",
    "option": "OPT",
    "options": "OPT",
    "forex": "CASH",
    "fx": "CASH",
    "future": "FUT",
    "futures": "FUT",
    "bond": "BOND",
    "bonds": "BOND",
}

#: Asset types the host knows but IBKR is not used for through this plugin.
REFUSED_ASSETS: Final[dict[str, str]] = {
    "crypto": "crypto is not traded through the IBKR plugin",
    "mutual_fund": "mutual funds are not traded through the IBKR plugin",
    "mutual_funds": "mutual funds are not traded through the IBKR plugin",
}

#: Host side -> CPAPI side. IBKR's CPAPI has no separate short-sale flag: a short sale is a SELL
#: that leaves the position negative, a cover is a BUY.
SIDES: Final[dict[str, str]] = {"buy": "BUY", "sell": "SELL", "sell_short": "SELL", "buy_to_cover": "BUY"}


class OrderTypeRule(NamedTuple):
    """How one host order type is written on the wire (REFERENCE §4.1 / §9.9)."""

    wire: str
    #: ``price`` carries the limit (LMT, STOP_LIMIT, TRAILLMT) ...
    limit: bool
    #: ... the stop trigger goes in ``price`` (STP, TRAIL) or ``auxPrice`` (STOP_LIMIT, TRAILLMT).
    stop: bool
    #: TRAIL's initial trigger is optional (IBKR computes one from the trail) [unconfirmed].
    stop_required: bool
    trailing: bool


ORDER_TYPES: Final[dict[str, OrderTypeRule]] = {
    "market": OrderTypeRule("MKT", limit=False, stop=False, stop_required=False, trailing=False),
    "limit": OrderTypeRule("LMT", limit=True, stop=False, stop_required=False, trailing=False),
    "stop": OrderTypeRule("STP", limit=False, stop=True, stop_required=True, trailing=False),
    "stop_limit": OrderTypeRule("STOP_LIMIT", limit=True, stop=True, stop_required=True, trailing=False),
    "trailing_stop": OrderTypeRule("TRAIL", limit=False, stop=True, stop_required=False, trailing=True),
    "trailing_stop_limit": OrderTypeRule(
        "TRAILLMT", limit=True, stop=True, stop_required=True, trailing=True
    ),
    # Issue 16.3, settled by REFERENCE §4.1 (IBKR's order ticket lists MIDPRICE, "price: MIDPRICE: price
    # cap") and examples/contract_rules.json (orderTypes "midprice"; "IOC/...,MIDPRICE,..."). Whether
    # the cap may be left out is not documented, so it is required (in ``limit_price``). Not a host
    # order type of HOST_CONTRACT §4: an extra word the plugin takes.
    "midprice": OrderTypeRule("MIDPRICE", limit=True, stop=False, stop_required=False, trailing=False),
}

#: Order types IBKR takes for US stocks only (IBKR's Midprice order is an equity order type;
#: contract_rules.json lists ``midprice`` for a stock).
_STOCK_ONLY: Final = frozenset({"midprice"})

#: Host order types each security type takes. Bonds: market and limit only (IBKR's bond desk
#: documentation was not in the reference; stop types are refused rather than guessed).
ORDER_TYPES_BY_SEC_TYPE: Final[dict[str, frozenset[str]]] = {
    "STK": frozenset(ORDER_TYPES),
    "OPT": frozenset(ORDER_TYPES) - _STOCK_ONLY,
    "FUT": frozenset(ORDER_TYPES) - _STOCK_ONLY,
    "CASH": frozenset(ORDER_TYPES) - _STOCK_ONLY,
    "BOND": frozenset({"market", "limit"}),
}

#: ``orderTypesOutside`` of contract_rules.json: order types that may fill outside regular hours.
OUTSIDE_RTH_ORDER_TYPES: Final = frozenset({"limit", "stop_limit", "trailing_stop_limit"})

#: Auction TIFs: an opening auction order cannot also fill outside regular hours.
AUCTION_TIFS: Final = frozenset({"opg"})


class TifRule(NamedTuple):
    """One host time-in-force: its wire code, and where IBKR takes it."""

    wire: str
    sec_types: frozenset[str]
    order_types: frozenset[str]


_ALL_SEC = frozenset(SEC_TYPES)
_ALL_TYPES = frozenset(ORDER_TYPES)
_MKT_LMT = frozenset({"market", "limit"})

#: Host TIF -> rule. ``cls`` (on the close) is refused (:data:`REFUSED_TIFS`).
TIFS: Final[dict[str, TifRule]] = {
    "day": TifRule("DAY", _ALL_SEC, _ALL_TYPES),
    "gtc": TifRule("GTC", _ALL_SEC, _ALL_TYPES),
    # contract_rules.json: "IOC/MARKET,LIMIT,RELATIVE,MARKETONCLOSE,MIDPRICE,...". CASH takes IOC on
    # IDEALPRO.
    "ioc": TifRule("IOC", _ALL_SEC, _MKT_LMT | {"midprice"}),
    # Opening auction: "OPG/LIMIT,MARKET"; an equity auction only.
    "opg": TifRule("OPG", frozenset({"STK"}), _MKT_LMT),
}

#: TIFs the host may send that are refused, with the reason.
REFUSED_TIFS: Final[dict[str, str]] = {
    "fok": "IBKR's Client Portal API documents no FOK time in force (DAY, GTC, IOC, OPG); "
    "use ioc for immediate execution",
    "gtd": "GTD needs an expiry field the Client Portal API reference does not confirm; "
    "use gtc and cancel the order, or day",
    # Issue 16.3, settled by REFERENCE §4.1/§10 (IBKR's order documentation lists orderType LMT, MKT,
    # STP, STOP_LIMIT, MIDPRICE, TRAIL, TRAILLMT only; contract rules' "marketonclose"/"limitonclose"
    # are UI names with no documented wire code): the simulator refused MOC/LOC, so on-close orders
    # never worked end to end. Refused here rather than guessed.
    "cls": "IBKR's Client Portal API documents no on-the-close order type (MOC/LOC); "
    "use day for a market or limit order during the session",
}

#: Wire TIF codes IBKR documents or shows, read back by ``intent_from_payload``.
WIRE_TIFS: Final[dict[str, str]] = {"DAY": "day", "GTC": "gtc", "IOC": "ioc", "OPG": "opg"}


class QuantityRule(NamedTuple):
    """What a quantity means for a security type, and its sanity bound."""

    unit: str
    whole: bool
    #: Bound against garbage input (a fat finger, a misplaced exponent), far above any real order;
    #: IBKR's own precautionary size limits are lower and apply at the venue.
    maximum: float
    #: ``whole`` is lifted by the account setting ``allow_fractional`` (fractional shares).
    fractional_setting: bool = False


QUANTITIES: Final[dict[str, QuantityRule]] = {
    "STK": QuantityRule("shares", whole=True, maximum=1e8, fractional_setting=True),
    "OPT": QuantityRule("contracts", whole=True, maximum=1e6),
    "FUT": QuantityRule("contracts", whole=True, maximum=1e6),
    # Base-currency units of the pair (EUR for EUR.USD), routed to IDEALPRO.
    "CASH": QuantityRule("units of the base currency", whole=False, maximum=1e10),
    # Face value, in the bond's currency.
    "BOND": QuantityRule("face value", whole=True, maximum=1e10),
}

#: Sanity bound on any price (BRK.A trades near 1e6); prices must be > 0.
MAX_PRICE: Final = 1e8

#: FX orders are routed to IDEALPRO through ``conidex`` (REFERENCE §3.3: a plain ``conid`` forces
#: SMART routing; whether SMART rejects FX is [unconfirmed], so the direct route is always used).
FX_EXCHANGE: Final = "IDEALPRO"

#: IBKR documents no length limit for ``cOID`` [unconfirmed]; 40 characters admits a UUID (36)
#: and is a conservative cap. Characters: letters, digits and ``-_.:``.
MAX_CLIENT_ORDER_ID: Final = 40
