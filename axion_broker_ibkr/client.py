"""``IBKRClient`` (sync) and ``AsyncIBKRClient`` (async): thin drivers of the I/O-free core.

Both clients execute the effects the core's operations yield (pacing, HTTP with keep-alive,
retries of idempotent requests, automatic re-opening of a dropped brokerage session, sleeping,
journal writes); request building, parsing, the snapshot pre-flight and the order question loop
live in :mod:`axion_broker_ibkr.ops.iserver` / :mod:`axion_broker_ibkr.ops.orderpath`, once. What the two
drivers share beyond that (TLS, modes, decisions, order preparation) is in :mod:`.clientbase`;
the drivers themselves are :mod:`.client_sync` and :mod:`.client_async`. This module is the
public import path, and re-exports the models.

>>> client = IBKRClient(IBKRConfig(mode="sim"))          # doctest: +SKIP
>>> client.positions()                                    # doctest: +SKIP
"""

from __future__ import annotations

from .config import IBKRConfig
from .drivers.client_async import AsyncIBKRClient
from .drivers.client_sync import IBKRClient
from .drivers.pacing import Pacer, RetryPolicy
from .models import (
    Account,
    AccountParent,
    AccountProps,
    AuthStatus,
    BondFilter,
    BondFilterOption,
    CancelAck,
    Candle,
    ContractInfo,
    ContractRules,
    CurrencyPair,
    FutureContract,
    GatewayStatus,
    History,
    IBKRContract,
    IncrementRule,
    IServerAccounts,
    Issuer,
    LedgerEntry,
    LiveOrders,
    Order,
    OrderAck,
    OrderQuestion,
    OrderReject,
    OrderResult,
    OrderStatus,
    PnLRow,
    Position,
    Quote,
    SearchSection,
    SecdefInfo,
    SecdefSearchResult,
    ServerInfo,
    StockContract,
    StockInstrument,
    Strikes,
    SummaryValue,
    Tickle,
    TickleIServer,
    Trade,
    WhatIf,
    WhatIfAmount,
    WhatIfChange,
)
from .wire.convert import DEFAULT_QUOTE_FIELDS

__all__ = [  # the drivers, their configuration and the models (the seed named them all here)
    "DEFAULT_QUOTE_FIELDS",
    "Account",
    "AccountParent",
    "AccountProps",
    "AsyncIBKRClient",
    "AuthStatus",
    "BondFilter",
    "BondFilterOption",
    "CancelAck",
    "Candle",
    "ContractInfo",
    "ContractRules",
    "CurrencyPair",
    "FutureContract",
    "GatewayStatus",
    "History",
    "IBKRClient",
    "IBKRConfig",
    "IBKRContract",
    "IServerAccounts",
    "IncrementRule",
    "Issuer",
    "LedgerEntry",
    "LiveOrders",
    "Order",
    "OrderAck",
    "OrderQuestion",
    "OrderReject",
    "OrderResult",
    "OrderStatus",
    "Pacer",
    "PnLRow",
    "Position",
    "Quote",
    "RetryPolicy",
    "SearchSection",
    "SecdefInfo",
    "SecdefSearchResult",
    "ServerInfo",
    "StockContract",
    "StockInstrument",
    "Strikes",
    "SummaryValue",
    "Tickle",
    "TickleIServer",
    "Trade",
    "WhatIf",
    "WhatIfAmount",
    "WhatIfChange",
]
