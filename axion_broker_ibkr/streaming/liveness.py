"""Liveness bookkeeping and reconnect back-off, with an injectable clock and random source. No I/O."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from attrs import define, field

Clock = Callable[[], float]


@define(kw_only=True)
class Liveness:
    """When to send ``tic`` / REST tickle, and whether the socket must be declared dead.

    The socket is dead when no ``system`` heartbeat arrived for ``heartbeat_timeout`` seconds.
    Before the first heartbeat of a connection any frame counts, so a gateway that never sends
    heartbeats is still judged by silence rather than reconnected forever.
    """

    tic_interval: float = 30.0
    tickle_interval: float = 60.0
    heartbeat_timeout: float = 35.0
    clock: Clock = time.monotonic
    connected_at: float | None = None
    last_frame: float | None = None
    last_heartbeat: float | None = None
    last_tic: float | None = None
    last_tickle: float | None = None

    def connected(self) -> None:
        now = self.clock()
        self.connected_at = now
        self.last_frame = None
        self.last_heartbeat = None
        self.last_tic = now

    def frame(self, heartbeat: bool = False) -> None:
        now = self.clock()
        self.last_frame = now
        if heartbeat:
            self.last_heartbeat = now

    def tic_due(self) -> bool:
        return self.last_tic is None or self.clock() - self.last_tic >= self.tic_interval

    def tic_sent(self) -> None:
        self.last_tic = self.clock()

    def tickle_due(self) -> bool:
        return self.last_tickle is None or self.clock() - self.last_tickle >= self.tickle_interval

    def tickled(self) -> None:
        self.last_tickle = self.clock()

    def silence(self) -> float:
        """Seconds since the last sign of life that counts (heartbeat once one was seen)."""
        if self.connected_at is None:
            return 0.0
        ref = self.last_heartbeat if self.last_heartbeat is not None else self.last_frame
        return self.clock() - (ref if ref is not None else self.connected_at)

    def dead(self) -> bool:
        return self.connected_at is not None and self.silence() >= self.heartbeat_timeout


@define(kw_only=True)
class Backoff:
    """Capped exponential back-off with full jitter: ``uniform(base, min(cap, base * 2**n))``."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2.0**self.attempts))
        self.attempts += 1
        return self.rng.uniform(min(self.base, ceiling), ceiling)

    def reset(self) -> None:
        self.attempts = 0
