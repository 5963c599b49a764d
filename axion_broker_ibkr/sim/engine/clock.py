"""The simulator's controllable clock: real time plus an offset that ``/sim/advance_clock`` moves."""

from __future__ import annotations

import datetime as dt
import threading
import time


class SimClock:
    """Wall-clock time shifted by an offset; ``advance`` moves the simulated present forward."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Simulated epoch seconds."""
        with self._lock:
            return time.time() + self._offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def utcnow(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), tz=dt.UTC)

    def today(self) -> dt.date:
        return self.utcnow().date()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("seconds: the clock only moves forward")
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    @property
    def offset(self) -> float:
        return self._offset
