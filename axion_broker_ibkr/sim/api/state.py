"""Everything the simulator knows, in one object the HTTP, WebSocket and admin layers share."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...ops.resets import ResetSchedule, Window
from ..engine.brokerage import SMD_EXPIRY_S, Session
from ..engine.clock import SimClock
from ..engine.order_engine import OrderEngine
from ..engine.paper_accounts import ACCOUNT_IDS, STARTING_CASH, STARTING_POSITIONS, Account, Position
from ..engine.paper_market import Market
from ..engine.universe import Universe
from .account_views import ledger
from .oauth import SimOAuth
from .pacing_gate import Pacer
from .ticket_reader import parse_ticket
from .wire import live_order, trade

log = logging.getLogger(__name__)
#: ``sor`` behaviours (issue 16.2):
#: ``stops_after_filter`` (default) -- REFERENCE §4.8 and ibind #129: a filtered
#: ``/iserver/account/orders`` call mutes ``sor`` updates until a ``force=true`` call;
#: ``silent`` -- a capture from a real gateway (build 10.46): no ``sor`` frame at all, while orders
#: were placed and cancelled (only ``ntf`` frames came);
#: ``unaffected`` -- the simulator's own choice for comparison: filtered calls change nothing.
SOR_MODES = ("stops_after_filter", "silent", "unaffected")
USER_NAME = "simuser1"
USER_ID = 123456789
SERVER_INFO = {"serverName": "AxionSim1", "serverVersion": "Build 10.25.0p (axion-broker-ibkr simulator)"}
MAC = "12:B:B3:23:BF:A0"


@dataclass
class Faults:
    fail_status: int = 0
    fail_count: int = 0
    fail_prefix: str | None = None
    latency_ms: float = 0.0
    timeout_next_order: bool = False
    #: how long that order's answer is held back (the server stopping ends the stall sooner)
    stall_s: float = 600.0
    heartbeats: bool = True
    positions_page_size: int = 100
    #: position rows carry the security-definition keys and ``pageSize`` (REFERENCE §2)
    positions_secdefs_cached: bool = True
    history_delay_s: float = 0.02
    #: status for unsubscribing a conid without a stream: 500 (the docs) or 404 (ibind's reading)
    unsubscribe_unknown_status: int = 500
    #: ``False``: the websocket upgrade is refused (REST keeps answering), as when a proxy or the
    #: gateway's websocket side is down; clients must fall back to REST polling
    websockets: bool = True


class SimState:
    """Clock, market, accounts, sessions, orders, pacing and faults of one simulator."""

    def __init__(
        self,
        seed: int = 0,
        logged_in: bool = True,
        rate_scale: float = 1.0,
        idle_timeout: float = 360.0,
        clock: SimClock | None = None,
        resets: ResetSchedule | None = None,
    ) -> None:
        self.seed = seed
        #: IBKR's nightly reset and Saturday maintenance (``None``: the session never goes down
        #: on a schedule); in a window the brokerage session drops and cannot be opened again.
        self.resets = resets
        self.outage: Window | None = None
        self.outages_seen = 0
        self.initial_logged_in = logged_in
        self.idle_timeout = idle_timeout
        #: a websocket ``smd`` subscription stops this many sim seconds after the client last sent it
        self.smd_ttl_s = float(SMD_EXPIRY_S)
        self.clock = clock or SimClock()
        #: how ``sor`` behaves (see :data:`SOR_MODES`); survives ``reset``, like ``smd_ttl_s``
        self.sor_mode = "stops_after_filter"
        #: order status changes are announced with ``ntf`` frames (the build 10.46 capture: ``sor``
        #: silent, only ``ntf`` frames came while orders were placed and cancelled)
        self.order_notifications = True
        self.ntf_seq = 0
        self.pacer = Pacer(scale=rate_scale)
        self.listeners: list[Callable[[str, Any], None]] = []
        #: set by ``SimServer(oauth=True)``: the simulator then plays IBKR's OAuth server
        self.oauth: SimOAuth | None = None
        self._build(logged_in)

    def _build(self, logged_in: bool) -> None:
        self.universe = Universe(self.clock.today())
        self.market = Market(self.universe, self.clock, self.seed)
        self.session = Session(selected_account=ACCOUNT_IDS[0])
        self.accounts: dict[str, Account] = {}
        for acct in ACCOUNT_IDS:
            account = Account(acct, cash=dict(STARTING_CASH.get(acct, {})))
            for symbol, qty, avg in STARTING_POSITIONS.get(acct, []):
                conid = self.universe.stock(symbol).conid
                account.positions[conid] = Position(conid, qty, avg)
            self.accounts[acct] = account
        for account in self.accounts.values():
            account.start_nlv = float(ledger(account, self.market, 0)["BASE"]["netliquidationvalue"])
        self.engine = OrderEngine(self.market, self.accounts, self.session, self.clock, parse_ticket)
        self.engine.listeners.append(self.emit)
        self.faults = Faults()
        self.snapshot_counter = 0
        self.ws_counts: Counter[str] = Counter()  # websocket events (e.g. smd_expired), for /sim/state
        if logged_in:
            self.session.login(self.clock.now())

    def reset(self) -> None:
        """Back to the state of a fresh start (same seed, same login state, clock offset kept)."""
        self.pacer.reset()
        self._build(self.initial_logged_in)
        self.emit("reset", None)

    # -- events ---------------------------------------------------------------------------------

    def emit(self, kind: str, obj: Any) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, obj)
            except Exception:  # a broken socket must not break the engine
                log.exception("simulator listener failed on %s", kind)

    def subscribe(self, listener: Callable[[str, Any], None]) -> Callable[[], None]:
        self.listeners.append(listener)

        def remove() -> None:
            if listener in self.listeners:
                self.listeners.remove(listener)

        return remove

    # -- time -----------------------------------------------------------------------------------

    def tick(self, dt_s: float, force: bool = False) -> None:
        """One market step of ``dt_s`` simulated seconds, then matching and session expiry.

        While the market is paused (``/sim/pause_market``) the timer's ticks neither move prices
        nor match orders; ``force`` (admin ``tick``, ``advance_clock``) still matches.
        """
        if self.market.paused and not force:
            self.check_idle()
            return
        self.market.step(dt_s)
        self.engine.tick()
        self.check_idle()
        self.emit("market", None)

    def advance(self, seconds: float) -> None:
        before = self.clock.now()
        self.clock.advance(seconds)
        self._crossed_outages(before, self.clock.now())
        self.tick(seconds, force=True)

    def _crossed_outages(self, before: float, after: float) -> None:
        """A clock jump over a whole window still took the session down (as the real reset would)."""
        if self.resets is None:
            return
        for window in self.resets.windows(after):
            if before < window.start and window.end <= after and window != self.outage:
                self.outages_seen += 1
                log.info("simulated %s passed during a clock jump", window.describe())
                if self.session.brokerage:
                    self.session.drop_brokerage()
                    self.emit("sts", {"authenticated": False})

    def check_idle(self) -> None:
        self.check_outage()
        s = self.session
        if s.brokerage and self.clock.now() - s.last_activity > self.idle_timeout:
            s.drop_brokerage(timed_out=True)
            self.emit("sts", {"authenticated": False})

    def check_outage(self) -> Window | None:
        """Enter or leave a scheduled outage at the simulated present; returns the active one."""
        if self.resets is None:
            return None
        window = self.resets.active(self.clock.now())
        if window is not None and window != self.outage:
            self.outage = window
            self.outages_seen += 1
            log.info("simulated %s: the brokerage session goes down", window.describe())
            if self.session.brokerage:
                self.session.drop_brokerage()
                self.emit("sts", {"authenticated": False})
        elif window is None and self.outage is not None:
            log.info("simulated %s is over", self.outage.describe())
            self.outage = None
        return window

    def touch(self) -> None:
        """A request reached the gateway: the brokerage session stays alive."""
        self.check_idle()
        self.session.last_activity = self.clock.now()

    # -- session views ----------------------------------------------------------------------------

    def auth_status(self) -> dict[str, Any]:
        s = self.session
        outage = self.check_outage()
        if s.timed_out and not s.brokerage:
            # The v1 docs' timed-out/logged-out variant (examples/iserver_auth_status_unauthenticated.json).
            return {"authenticated": False, "competing": False, "connected": False, "MAC": MAC}
        return {
            "authenticated": s.authenticated,
            "competing": s.competing,
            "connected": s.connected,
            "message": "",
            "MAC": MAC,
            "serverInfo": dict(SERVER_INFO),
            "hardware_info": "3b0679ee|12:B:B3:23:BF:A0",
            # [unconfirmed] what a real gateway says during the reset is undocumented.
            "fail": f"{outage.describe()} in progress" if outage is not None else "",
        }

    def iserver_accounts(self) -> dict[str, Any]:
        ids = list(self.accounts)
        props = {
            "hasChildAccounts": False,
            "supportsCashQty": True,
            "noFXConv": False,
            "isProp": False,
            "supportsFractions": False,
            "allowCustomerTime": False,
        }
        return {
            "accounts": ids,
            "acctProps": {a: dict(props) for a in ids},
            "aliases": {a: a for a in ids},
            "allowFeatures": {
                "showGFIS": True,
                "showEUCostReport": False,
                "allowEventContract": False,
                "allowFXConv": True,
                "allowFinancialLens": False,
                "allowMTA": True,
                "allowTypeAhead": True,
                "allowEventTrading": False,
                "snapshotRefreshTimeout": 30,
                "liteUser": False,
                "showWebNews": False,
                "research": False,
                "debugPnl": True,
                "showTaxOpt": False,
                "showImpactDashboard": False,
                "allowDynAccount": False,
                "allowCrypto": False,
                "allowedAssetTypes": "STK,OPT,FUT,CASH,BOND",
            },
            # CRYPTO is listed by real gateways' /iserver/accounts (issue 16.6, ibind's recorded response).
            "chartPeriods": {t: ["*"] for t in ("STK", "OPT", "FUT", "CASH", "BOND", "CRYPTO")},
            "groups": [],
            "profiles": [],
            "selectedAccount": self.session.selected_account,
            "serverInfo": dict(SERVER_INFO),
            "sessionId": f"{self.session.token[:7]}.{self.session.seq:08d}",
            "isFT": False,
            "isPaper": True,
        }

    def portfolio_account(self, account_id: str) -> dict[str, Any]:
        return {
            "id": account_id,
            "PrepaidCrypto-Z": False,
            "PrepaidCrypto-P": False,
            "brokerageAccess": True,
            "accountId": account_id,
            "accountVan": account_id,
            "accountTitle": "Axion Simulated Paper",
            "displayName": account_id,
            "accountAlias": None,
            "accountStatus": 1644814800000,
            "currency": "USD",
            "type": "DEMO",
            "tradingType": "PMRGN",
            "businessType": "IB_PROSERVE",
            "ibEntity": "IBLLC-US",
            "faclient": False,
            "clearingStatus": "O",
            "covestor": False,
            "noClientTrading": False,
            "trackVirtualFXPortfolio": False,
            "parent": {
                "mmc": [],
                "accountId": "",
                "isMParent": False,
                "isMChild": False,
                "isMultiplex": False,
            },
            "desc": account_id,
        }

    def snapshot_state(self) -> dict[str, Any]:
        """``GET /sim/state``: orders, positions, cash, sessions and request counts."""
        return {
            "clock": {"now_ms": self.clock.now_ms(), "offset_s": self.clock.offset},
            "resets": {
                "enabled": self.resets is not None,
                "outage": self.outage.describe() if self.outage is not None else None,
                "outages_seen": self.outages_seen,
            },
            "session": {
                "sso": self.session.sso,
                "brokerage": self.session.brokerage,
                "competing": self.session.competing,
                "connected": self.session.connected,
                "selected_account": self.session.selected_account,
                "suppressed": sorted(self.session.suppressed),
                "seq": self.session.seq,
                "accounts_called": self.session.accounts_called,
            },
            "orders": [live_order(o) for o in self.engine.orders.values()],
            "trades": [trade(e) for e in self.engine.executions],
            "positions": {
                a.account_id: {
                    str(c): {"position": p.quantity, "avgPrice": p.avg_price} for c, p in a.positions.items()
                }
                for a in self.accounts.values()
            },
            "cash": {a.account_id: dict(a.cash) for a in self.accounts.values()},
            "request_counts": dict(self.pacer.counts),
            "pacing": self.pacer.state(),
            "ws_counts": dict(self.ws_counts),
            "faults": {
                "fail_status": self.faults.fail_status,
                "fail_count": self.faults.fail_count,
                "latency_ms": self.faults.latency_ms,
                "timeout_next_order": self.faults.timeout_next_order,
                "stall_s": self.faults.stall_s,
                "heartbeats": self.faults.heartbeats,
                "websockets": self.faults.websockets,
            },
            "sor": {
                "mode": self.sor_mode,
                "suppressed": self.session.sor_suppressed,
                "order_notifications": self.order_notifications,
            },
        }

    def next_ntf_id(self) -> str:
        self.ntf_seq += 1
        return str(self.ntf_seq)
