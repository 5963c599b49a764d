"""Typed models of the Client Portal Web API, with Python names.

The models know nothing of IBKR's wire names (camelCase, snake_case, ``cOID``, ``conidex`` ...):
those live in the rename tables of :mod:`axion_broker_ibkr.wire.convert`, which is the only place that
turns JSON into these classes and back. Every received field is optional: a field IBKR did not
send is ``None``, never ``0``. Numbers that IBKR sends as display strings (``"1,300"``,
``"C168.42"``, ``"1.2M"``) are parsed by the converter.

One module per area (:mod:`.session`, :mod:`.accounts`, :mod:`.orders`, :mod:`.market`,
:mod:`.contracts`); every model is re-exported here, and ``axion_broker_ibkr.models`` is the
import path to use.
"""

from __future__ import annotations

from .accounts import (
    Account,
    AccountParent,
    AccountProps,
    BrokerageSummary,
    CashBalance,
    IServerAccounts,
    LedgerEntry,
    PnLRow,
    Position,
    SummarySection,
    SummaryValue,
)
from .contracts import (
    BondFilter,
    BondFilterOption,
    ContractInfo,
    ContractRules,
    CurrencyPair,
    FutureContract,
    IBKRContract,
    IncrementRule,
    Issuer,
    SearchSection,
    SecdefInfo,
    SecdefSearchResult,
    StockContract,
    StockInstrument,
    Strikes,
)
from .market import (
    Candle,
    History,
    Quote,
)
from .orders import (
    CancelAck,
    LegResult,
    LiveOrders,
    Order,
    OrderAck,
    OrderQuestion,
    OrderReject,
    OrderReply,
    OrderResult,
    OrderStatus,
    PendingQuestion,
    Trade,
    WhatIf,
    WhatIfAmount,
    WhatIfChange,
)
from .session import (
    AuthStatus,
    GatewayStatus,
    ServerInfo,
    Tickle,
    TickleIServer,
)

__all__ = [
    "Account",
    "AccountParent",
    "AccountProps",
    "AuthStatus",
    "BondFilter",
    "BondFilterOption",
    "BrokerageSummary",
    "CancelAck",
    "Candle",
    "CashBalance",
    "ContractInfo",
    "ContractRules",
    "CurrencyPair",
    "FutureContract",
    "GatewayStatus",
    "History",
    "IBKRContract",
    "IServerAccounts",
    "IncrementRule",
    "Issuer",
    "LedgerEntry",
    "LegResult",
    "LiveOrders",
    "Order",
    "OrderAck",
    "OrderQuestion",
    "OrderReject",
    "OrderReply",
    "OrderResult",
    "OrderStatus",
    "PendingQuestion",
    "PnLRow",
    "Position",
    "Quote",
    "SearchSection",
    "SecdefInfo",
    "SecdefSearchResult",
    "ServerInfo",
    "StockContract",
    "StockInstrument",
    "Strikes",
    "SummarySection",
    "SummaryValue",
    "Tickle",
    "TickleIServer",
    "Trade",
    "WhatIf",
    "WhatIfAmount",
    "WhatIfChange",
]
