"""Where a :class:`~axion_broker_ibkr.drivers.pacing.Pacer` keeps its budget: one per gateway.

IBKR limits a gateway (10 requests/s, the per-endpoint table, the 429 penalty box), not a
process. A host that runs its page, its executor and its jobs as separate processes, or a trader
who runs six ``axion-ibkr`` commands back to back, must therefore book every request in one shared
budget. Config key ``pacing_store`` (env ``AXION_IBKR_PACING_STORE``) chooses the store:

``auto`` (default)
    ``file`` where the platform has ``fcntl`` file locks (Linux, macOS), else ``memory``.
``file``
    A small JSON state file per gateway ``host:port`` in the user data directory
    (``platformdirs.user_data_dir("axion-ibkr")/pacing``, or ``pacing_dir``), read and rewritten
    under an exclusive ``flock`` for every booking (tens of microseconds; ``bench/pacing.py``
    prints the figure). Times are on the system-wide monotonic clock, so every process on the
    machine agrees on them.
``postgres``
    A row per gateway in the ``ibkr_pacing`` table of the order log's PostgreSQL database
    (``SELECT ... FOR UPDATE`` per booking, about one round trip): processes on several machines
    behind one gateway share it. Times are wall-clock (keep the machines on NTP).
``memory``
    This process only (the pre-0.2 behaviour; tests that want isolation).

A state that cannot be read (a torn write after a crash, another version's format) starts over:
the worst case is one burst that the gateway's own 429 then paces.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from attrs import define, field

from ..errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ..config import IBKRConfig

try:
    import fcntl
except ImportError:  # Windows: no flock; ``auto`` keeps the budget in memory there
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
T = TypeVar("T")

APP_NAME = "axion-ibkr"
#: Sub-directory of the user data directory that holds the state files.
PACING_SUBDIR = "pacing"
#: The ``pacing_dir`` setting's environment variable (read by the config and by
#: :func:`default_pacing_dir`).
PACING_DIR_ENV = "AXION_IBKR_PACING_DIR"
#: Version of the state file's JSON layout (another version starts over).
FORMAT = 1
_MAX_STATE_BYTES = 64 * 1024


@define
class PacingState:
    """What every process pacing one gateway agrees on (times on the store's clock)."""

    tat: float = 0.0  # GCRA theoretical arrival time of the global budget
    blocked_until: float = 0.0  # a 429 back-off: nobody sends before this
    strikes: int = 0  # 429s in a row (the back-off doubles on each)
    next_at: dict[str, float] = field(factory=dict)  # endpoint rule -> earliest next send
    held: list[float] = field(factory=list)  # sorted global slots held by endpoint-delayed sends
    #: concurrency-capped endpoints (history): rule -> {lease token: expiry}
    leases: dict[str, dict[str, float]] = field(factory=dict)

    def clear(self) -> None:
        self.tat = self.blocked_until = 0.0
        self.strikes = 0
        self.next_at = {}
        self.held = []
        self.leases = {}

    def to_json(self) -> bytes:
        data = {"v": FORMAT, "tat": self.tat, "blocked": self.blocked_until, "strikes": self.strikes,
                "next": self.next_at, "held": self.held, "leases": self.leases}  # fmt: skip
        return json.dumps(data, separators=(",", ":")).encode("ascii")

    @classmethod
    def from_json(cls, raw: bytes | str | None) -> PacingState:
        """Parse a stored state; anything unreadable gives a fresh state."""
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("v") != FORMAT:
                return cls()
            nxt = data.get("next") or {}
            return cls(
                tat=float(data.get("tat", 0.0)),
                blocked_until=float(data.get("blocked", 0.0)),
                strikes=int(data.get("strikes", 0)),
                next_at={str(k): float(v) for k, v in nxt.items()},
                held=sorted(float(v) for v in data.get("held") or ()),
                leases={
                    str(name): {str(t): float(e) for t, e in tokens.items()}
                    for name, tokens in (data.get("leases") or {}).items()
                },
            )
        except (ValueError, TypeError, AttributeError):
            log.debug("pacing state unreadable; starting over")
            return cls()

    def copy(self) -> PacingState:
        leases = {name: dict(tokens) for name, tokens in self.leases.items()}
        return PacingState(
            self.tat, self.blocked_until, self.strikes, dict(self.next_at), list(self.held), leases
        )


class PacingStore(Protocol):
    """An exclusive read-modify-write of one gateway's :class:`PacingState`."""

    #: ``memory``, ``file`` or ``postgres`` (shown on status pages).
    name: str
    #: The clock the stored times are on.
    clock: Callable[[], float]

    def update(self, fn: Callable[[PacingState], T]) -> T:
        """Run ``fn`` on the state while no other booker (thread or process) can; store the result."""
        ...

    def read(self) -> PacingState:
        """A copy of the current state."""
        ...

    def close(self) -> None: ...


class MemoryStore:
    """This process's memory (every thread of it)."""

    name = "memory"

    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.monotonic
        self._state = PacingState()
        self._lock = threading.Lock()

    def update(self, fn: Callable[[PacingState], T]) -> T:
        with self._lock:
            return fn(self._state)

    def read(self) -> PacingState:
        with self._lock:
            return self._state.copy()

    def close(self) -> None:
        return None


class FileStore:
    """One JSON state file, read and rewritten under an exclusive ``flock`` (POSIX only).

    The file descriptor stays open; a forked child opens its own (``flock`` locks belong to the
    open file description, which a fork shares, so an inherited descriptor would not exclude the
    parent).
    """

    name = "file"

    def __init__(self, path: Path) -> None:
        if fcntl is None:
            raise ConfigError("pacing_store", "the file store needs fcntl file locks (not on Windows)")
        self.path = Path(path)
        self.clock: Callable[[], float] = time.monotonic  # system-wide (CLOCK_MONOTONIC)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open()
        except OSError as exc:
            raise ConfigError("pacing_dir", f"cannot use the pacing state file {self.path}: {exc}") from None

    def _open(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def update(self, fn: Callable[[PacingState], T]) -> T:
        assert fcntl is not None
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                old = os.pread(fd, _MAX_STATE_BYTES, 0)
                state = PacingState.from_json(old)
                result = fn(state)
                raw = state.to_json()
                if len(raw) < len(old):  # whoever wrote last: pad over it (JSON ignores the
                    raw += b" " * (len(old) - len(raw))  # blanks; saves an ftruncate)
                os.pwrite(fd, raw, 0)
                return result
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def read(self) -> PacingState:
        assert fcntl is not None
        with self._lock:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_SH)
            try:
                return PacingState.from_json(os.pread(fd, _MAX_STATE_BYTES, 0))
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None and getattr(self, "_pid", 0) == os.getpid():
            with contextlib.suppress(OSError):
                os.close(fd)


class SqlPacingStore:
    """A row of ``ibkr_pacing`` (migration ``ibkr_0006``), locked with ``SELECT ... FOR UPDATE``.

    Meant for PostgreSQL (several machines behind one gateway); on SQLite the row lock is the
    database's write lock (``BEGIN IMMEDIATE`` of :func:`~axion_broker_ibkr.store.make_engine`).
    """

    name = "postgres"

    def __init__(self, engine: Engine, gateway: str, *, own_engine: bool = False) -> None:
        from sqlalchemy import insert, select, update
        from sqlalchemy.exc import IntegrityError

        from ..store.models import IbkrPacing

        self.engine = engine
        self.gateway = gateway
        self.clock: Callable[[], float] = time.time  # machines share wall time, not a monotonic clock
        self._own_engine = own_engine
        self._table = IbkrPacing.__table__
        self._select = select(self._table.c.state).where(self._table.c.gateway == gateway)
        self._insert = insert(IbkrPacing)
        self._update = update(IbkrPacing).where(IbkrPacing.gateway == gateway)
        self._lock = threading.Lock()
        try:
            with engine.begin() as conn:
                if conn.execute(self._select).first() is None:
                    conn.execute(self._insert.values(gateway=gateway, state=PacingState().to_json().decode()))
        except IntegrityError:
            pass  # another process created the row at the same moment: it is there now

    def update(self, fn: Callable[[PacingState], T]) -> T:
        with self._lock, self.engine.begin() as conn:
            row = conn.execute(self._select.with_for_update()).first()
            state = PacingState.from_json(row[0] if row is not None else None)
            result = fn(state)
            values: dict[str, Any] = {"state": state.to_json().decode(), "updated_at": time.time()}
            if row is None:
                conn.execute(self._insert.values(gateway=self.gateway, **values))
            else:
                conn.execute(self._update.values(**values))
            return result

    def read(self) -> PacingState:
        with self.engine.connect() as conn:
            row = conn.execute(self._select).first()
        return PacingState.from_json(row[0] if row is not None else None)

    def close(self) -> None:
        if self._own_engine:
            self.engine.dispose()


# --------------------------------------------------------------------------------------------


def gateway_key(host: str, port: int) -> str:
    """``host:port`` as the store keys it (``localhost`` and ``127.0.0.1`` are the same gateway)."""
    host = host.strip("[]").lower()
    if host in ("localhost", "::1", "127.0.0.1"):
        host = "127.0.0.1"
    return f"{host}:{int(port)}"


def default_pacing_dir() -> Path:
    """The state files' directory: ``AXION_IBKR_PACING_DIR`` when set (also for configs built
    without the environment), else ``pacing`` in the platform's user data directory."""
    import platformdirs

    given = os.environ.get(PACING_DIR_ENV, "").strip()
    if given:
        return Path(given).expanduser()

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / PACING_SUBDIR


def state_file(directory: Path, host: str, port: int) -> Path:
    """The state file of gateway ``host:port`` in ``directory``."""
    safe = re.sub(r"[^A-Za-z0-9.-]", "_", gateway_key(host, port).replace(":", "_"))
    return Path(directory) / f"{safe}.json"


def open_pacing_store(config: IBKRConfig, host: str, port: int) -> PacingStore:
    """The store ``config.pacing_store`` names, for the gateway at ``host:port``.

    ``auto`` never fails: without file locks, or when the data directory is not writable, it
    keeps the budget in memory (with a warning). ``file`` and ``postgres`` raise
    :class:`~axion_broker_ibkr.errors.ConfigError` naming the key when they cannot be used.
    """
    kind = config.pacing_store
    if kind == "memory":
        return MemoryStore()
    if kind == "postgres":
        return _postgres_store(config, host, port)
    directory = Path(config.pacing_dir).expanduser() if config.pacing_dir else default_pacing_dir()
    if kind == "auto" and fcntl is None:
        log.info("pacing: no file locks on this platform; each process paces on its own")
        return MemoryStore()
    try:
        return FileStore(state_file(directory, host, port))
    except ConfigError as exc:
        if kind == "file":
            raise
        log.warning("pacing: %s; each process paces on its own", exc)
        return MemoryStore()


def _postgres_store(config: IBKRConfig, host: str, port: int) -> SqlPacingStore:
    from ..store.engine import display_url, make_engine, resolve_database_url

    url = resolve_database_url({"database_url": config.database_url} if config.database_url else None)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(
            "pacing_store",
            f"'postgres' shares the budget through the order log's PostgreSQL database, but the order "
            f"log is {display_url(url)}; set database_url to a postgresql:// URL or use 'file'",
        )
    engine = make_engine(url)
    try:
        return SqlPacingStore(engine, gateway_key(host, port), own_engine=True)
    except Exception as exc:
        engine.dispose()
        raise ConfigError(
            "pacing_store",
            f"cannot use the ibkr_pacing table in {display_url(url)} ({type(exc).__name__}); "
            "run `axion-ibkr db upgrade` first",
        ) from exc
