"""IBKR's scheduled outages: the nightly brokerage reset and the Saturday maintenance.

REFERENCE §1.5: the SSO session is reset daily around regional midnight, and the newer Web API
docs say the ``/iserver`` (brokerage) layer is briefly unavailable around **01:00 local time of the
server's region**; full maintenance is on Saturday evening. Neither the reset's exact length nor
the Saturday window's hours are documented [unconfirmed]: the defaults here (01:00 for 5 minutes;
Saturday 23:00 for 60 minutes, in ``America/New_York`` for the North American servers) are a
cautious reading, and every one of them is configurable.

The same :class:`ResetSchedule` drives the simulator (which takes the brokerage session down in
those windows) and the clients (which hold orders submitted in the minutes around a window
instead of sending them into a session that is about to die; see
:meth:`ResetSchedule.hold_reason`).
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from attrs import define, field

log = logging.getLogger(__name__)

#: North American servers (the simulator's ``sso/validate`` reports region ``NJ``).
DEFAULT_TIMEZONE = "America/New_York"
#: Minutes before a window in which orders are held (config ``reset_hold_minutes``; 0: never).
DEFAULT_HOLD_MINUTES = 5.0
#: After a window has ended without the session coming back, orders are held this much longer
#: at most; then they go out and meet whatever the gateway says.
MAX_HOLD_AFTER_S = 15 * 60.0


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as America/New_York)") from None


def _hhmm(value: str) -> dt.time:
    try:
        hours, minutes = value.split(":")
        return dt.time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ValueError(f"not a time of day HH:MM: {value!r}") from None


@define(frozen=True)
class Window:
    """One outage: ``start``/``end`` in epoch seconds; ``kind`` names it for messages."""

    kind: str
    start: float
    end: float
    zone: str

    def local(self, when: float) -> str:
        return dt.datetime.fromtimestamp(when, _zone(self.zone)).strftime("%H:%M")

    def describe(self) -> str:
        return f"{self.kind} ({self.local(self.start)}-{self.local(self.end)} {self.zone})"


@define(frozen=True)
class ResetSchedule:
    """When IBKR takes the brokerage session down (local times in ``timezone``)."""

    timezone: str = field(default=DEFAULT_TIMEZONE)
    daily_at: str = "01:00"
    daily_minutes: float = 5.0
    #: Saturday maintenance start (local) and length; ``saturday_minutes=0`` leaves it out.
    saturday_at: str = "23:00"
    saturday_minutes: float = 60.0

    def __attrs_post_init__(self) -> None:
        _zone(self.timezone)
        _hhmm(self.daily_at)
        _hhmm(self.saturday_at)
        if self.daily_minutes < 0 or self.saturday_minutes < 0:
            raise ValueError("window lengths must not be negative")

    def windows(self, now: float) -> list[Window]:
        """The windows that touch the days around ``now`` (yesterday to tomorrow), by start."""
        tz = _zone(self.timezone)
        today = dt.datetime.fromtimestamp(now, tz).date()
        out: list[Window] = []
        daily, saturday = _hhmm(self.daily_at), _hhmm(self.saturday_at)
        zone = self.timezone
        for offset in (-1, 0, 1):
            day = today + dt.timedelta(days=offset)
            if self.daily_minutes > 0:
                start = dt.datetime.combine(day, daily, tz).timestamp()
                out.append(Window("IBKR's daily reset", start, start + self.daily_minutes * 60, zone))
            if self.saturday_minutes > 0 and day.weekday() == 5:
                start = dt.datetime.combine(day, saturday, tz).timestamp()
                end = start + self.saturday_minutes * 60
                out.append(Window("IBKR's Saturday maintenance", start, end, zone))
        return sorted(out, key=lambda w: w.start)

    def active(self, now: float) -> Window | None:
        """The window ``now`` is in, if any."""
        for window in self.windows(now):
            if window.start <= now < window.end:
                return window
        return None

    def hold(self, now: float, *, hold_minutes: float, session_back_at: float | None = None) -> Hold | None:
        """Whether an order placed at ``now`` (server time) must wait, and why; ``None``: send it.

        Held: from ``hold_minutes`` before a window until the window is over *and* the brokerage
        session has been opened again after it began (``session_back_at``: when the client last
        saw it authenticated), but never longer than :data:`MAX_HOLD_AFTER_S` after the window's
        end. ``hold_minutes <= 0`` never holds.
        """
        if hold_minutes <= 0:
            return None
        lead = hold_minutes * 60
        for w in self.windows(now):
            if not w.start - lead <= now < w.end + MAX_HOLD_AFTER_S:
                continue
            over = now >= w.end
            if over and session_back_at is not None and session_back_at >= w.start:
                return None  # the session came back after the window began: orders flow again
            if over:
                when = "is over, but the brokerage session has not been opened again yet"
            elif now < w.start:
                when = f"begins in {w.start - now:.0f} s"
            else:
                when = "is under way"
            retry_at = max(w.end, now) + 60
            message = (
                f"order held, nothing was sent: {w.describe()} {when}; an order sent into a session "
                f"that is being reset may be lost or left in an unknown state. Retry after "
                f"{w.local(retry_at)} {w.zone}, once the gateway's brokerage session is back"
            )
            return Hold(window=w, message=message, retry_at=retry_at, over=over)
        return None


@define(frozen=True)
class Hold:
    """An order held around a window: the message names the window and when to retry."""

    window: Window
    message: str
    retry_at: float  # epoch seconds (server time)
    over: bool  # the window itself has ended (only the session's return is awaited)
