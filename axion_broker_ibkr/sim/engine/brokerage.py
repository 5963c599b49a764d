"""The two session layers of the gateway (SSO and brokerage) and what each remembers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

#: Market-data streams opened by a snapshot expire when not read for this long (sim seconds).
SMD_EXPIRY_S = 15 * 60


@dataclass
class Session:
    """SSO (read-only) session and brokerage (``/iserver``) session state."""

    selected_account: str
    sso: bool = False
    brokerage: bool = False
    competing: bool = False
    connected: bool = True
    timed_out: bool = False
    token: str = ""
    seq: int = 0  # brokerage-session counter: per-session caches reset when it changes
    last_activity: float = 0.0
    accounts_called: bool = False
    portfolio_accounts_called: bool = False
    suppressed: set[str] = field(default_factory=set)
    md_streams: dict[int, float] = field(default_factory=dict)  # conid -> last read (sim s)
    searched: set[int] = field(default_factory=set)  # underlyings searched (strikes/info need it)
    live_orders_primed: bool = False
    sor_suppressed: bool = False

    def login(self, now: float, brokerage: bool = True) -> None:
        """A (browser) SSO login; the gateway normally opens the brokerage session right after."""
        self.sso = True
        self.connected = True
        self.token = secrets.token_hex(16)
        self.last_activity = now
        self.portfolio_accounts_called = False
        if brokerage:
            self.open_brokerage(now)
        else:
            self.brokerage = False

    def logout(self) -> None:
        self.sso = False
        self.brokerage = False
        self.competing = False
        self.token = ""
        self._reset_brokerage_caches()

    def open_brokerage(self, now: float) -> None:
        self.brokerage = True
        self.competing = False
        self.connected = True
        self.timed_out = False
        self.seq += 1
        self.last_activity = now
        self._reset_brokerage_caches()

    def drop_brokerage(self, timed_out: bool = False) -> None:
        self.brokerage = False
        self.timed_out = timed_out
        if timed_out:
            self.connected = False  # REFERENCE §1.3: timed-out sessions report connected:false
        self._reset_brokerage_caches()

    def _reset_brokerage_caches(self) -> None:
        self.accounts_called = False
        self.suppressed = set()
        self.md_streams = {}
        self.searched = set()
        self.live_orders_primed = False
        self.sor_suppressed = False

    @property
    def authenticated(self) -> bool:
        return self.sso and self.brokerage and not self.competing

    def has_stream(self, conid: int, now: float) -> bool:
        last = self.md_streams.get(conid)
        return last is not None and now - last <= SMD_EXPIRY_S
