"""``SimServer``: the simulator on a background thread (uvicorn, own event loop); ``serve`` for the CLI."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from ...errors import ConfigError
from ...ops.resets import ResetSchedule
from .admin import SimAdmin
from .asgi import build_app
from .certificate import generate_certificate
from .http import Api
from .oauth import DEFAULT_TOKEN_LIFETIME_S, SimOAuth
from .pacing_gate import IBKR_PENALTY_SECONDS
from .state import SOR_MODES, SimState

log = logging.getLogger(__name__)
START_TIMEOUT_S = 20.0
#: How often, during shutdown, connections that only wait for the peer's TLS close are aborted.
SHUTDOWN_POLL_S = 0.05


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback bind unless explicitly allowed (the gateway speaks for an account)."""
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(
            "host",
            f"{host!r} is not a loopback address; the simulator binds to loopback only unless "
            "allow_remote=True (--allow-remote) is given",
        )


def listening_socket(host: str) -> socket.socket:
    """A TCP socket for uvicorn to listen on (not yet bound).

    The protocol must be given explicitly as ``IPPROTO_TCP``: asyncio only sets ``TCP_NODELAY`` on
    an accepted connection whose socket says ``proto == IPPROTO_TCP``, and accepted sockets inherit
    the listener's ``proto``. With ``socket.socket(family, SOCK_STREAM)`` (proto 0) Nagle stays on,
    and since uvicorn writes the response head and body separately (two TLS records), every answer
    waited for the client's delayed ACK: ~44 ms per request on loopback instead of <1 ms.
    ``TCP_NODELAY`` is also set on the listener, which Linux copies to accepted sockets.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _Uvicorn(uvicorn.Server):
    """uvicorn, minus the wait on silent TLS peers at shutdown.

    At shutdown uvicorn closes every idle keep-alive connection; over TLS, asyncio then sends
    ``close_notify`` and waits for the peer's (up to 30 s). A pooled client that is not reading
    never answers, so each stop sat out ``timeout_graceful_shutdown`` (1 s) and logged "Cancel 0
    running task(s)". Here a connection the server has already finished with (closing, nothing
    left to write) is aborted instead; answers still being written are left alone.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        reaper = asyncio.create_task(self._abort_finished_connections())
        try:
            await super().shutdown(sockets=sockets)
        finally:
            reaper.cancel()

    async def _abort_finished_connections(self) -> None:
        while True:
            await asyncio.sleep(SHUTDOWN_POLL_S)
            for connection in list(self.server_state.connections):
                transport = getattr(connection, "transport", None)
                if (
                    isinstance(transport, asyncio.Transport)
                    and transport.is_closing()
                    and not transport.get_write_buffer_size()
                ):
                    transport.abort()


class _Url:
    """A read-only address of the server, ``scheme://host:port`` and ``path``, for its host and port now."""

    def __init__(self, scheme: str, path: str) -> None:
        self.scheme = scheme
        self.path = path

    def __get__(self, server: SimServer, owner: type[SimServer] | None = None) -> str:
        host = f"[{server.host}]" if ":" in server.host else server.host
        return f"{self.scheme}://{host}:{server.port}{self.path}"

    def __set__(self, server: SimServer, value: str) -> None:
        raise AttributeError("a SimServer's addresses follow its host and port")


class SimServer:
    """The embedded Client Portal Gateway simulator (HTTPS + WSS)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        logged_in: bool = True,
        allow_remote: bool = False,
        rate_scale: float = 1.0,
        heartbeat_interval: float = 10.0,
        idle_timeout: float = 360.0,
        penalty_seconds: float = 1.0,
        penalty_strikes: int = 3,
        resets: ResetSchedule | None = None,
        oauth: bool = False,
        oauth_dir: str | Path | None = None,
        oauth_force: bool = False,
        oauth_token_lifetime: float = DEFAULT_TOKEN_LIFETIME_S,
        oauth_consumer_key: str | None = None,
        sor_mode: str = "stops_after_filter",
        order_notifications: bool = True,
    ) -> None:
        """``penalty_seconds``: how long a client that keeps exceeding the limits (``penalty_strikes``
        429 answers within a minute) gets 429 on everything; IBKR's length is 10-15 minutes
        (``pacing.IBKR_PENALTY_SECONDS``), the default is a short box so tests meet the consequence
        without waiting; 0 switches the box off. ``resets``: IBKR's nightly reset and Saturday
        maintenance on the simulated clock (``None``, the default: no scheduled outages; the
        standalone ``axion-ibkr sim`` turns them on).

        ``oauth=True``: the simulator plays api.ibkr.com with OAuth 1.0a (``sim/api/oauth.py``): at start
        it writes a first-party credential set into ``oauth_dir`` (default: a directory of its own,
        removed at stop) as ``oauth.json`` + two private keys + ``ca.pem`` (``oauth_credentials``
        names the JSON; a set in ``oauth_dir`` the simulator did not write is refused with a
        :class:`ConfigError` unless ``oauth_force``), and answers ``/v1/api`` only when signed with a
        live session token that lives ``oauth_token_lifetime`` simulated seconds.


        ``sor_mode``: ``stops_after_filter`` (a filtered live-orders call mutes ``sor`` until a
        ``force=true`` call, REFERENCE §4.8), ``silent`` (no ``sor`` frames at all, as a build 10.46
        capture shows) or ``unaffected``; ``order_notifications``: ``ntf`` frames for order status
        changes."""
        check_bind(host, allow_remote)
        if rate_scale <= 0:
            raise ConfigError("rate_scale", "must be positive")
        if heartbeat_interval <= 0:
            raise ConfigError("heartbeat_interval", "must be positive")
        if idle_timeout <= 0:
            raise ConfigError("idle_timeout", "must be positive")
        if penalty_seconds < 0:
            raise ConfigError("penalty_seconds", "must not be negative")
        if penalty_strikes < 1:
            raise ConfigError("penalty_strikes", "must be at least 1")
        if sor_mode not in SOR_MODES:
            raise ConfigError("sor_mode", f"{sor_mode!r} is not one of {list(SOR_MODES)}")
        self.host = host
        self.port = port
        self.heartbeat_interval = heartbeat_interval
        self.state = SimState(
            seed=seed, logged_in=logged_in, rate_scale=rate_scale, idle_timeout=idle_timeout, resets=resets
        )
        self.state.sor_mode = sor_mode
        self.state.order_notifications = order_notifications
        self.state.pacer.penalty_seconds = penalty_seconds
        self.state.pacer.penalty_strikes = penalty_strikes
        if oauth_token_lifetime <= 0:
            raise ConfigError("oauth_token_lifetime", "must be positive")
        if oauth:
            self.state.oauth = SimOAuth(
                self.state.clock, consumer_key=oauth_consumer_key, token_lifetime=oauth_token_lifetime
            )
        self.oauth_dir = Path(oauth_dir).expanduser() if oauth_dir is not None else None
        self.oauth_force = oauth_force
        #: ``oauth=True``: the credentials file written at start (``oauth.json``)
        self.oauth_credentials: Path | None = None
        self._tmp: Path | None = None
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self._admin: SimAdmin | None = None
        self.api: Api | None = None
        self.cert_path: Path | None = None
        self.cert_fingerprint: str = ""

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SimServer:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._tmp = Path(tempfile.mkdtemp(prefix="axion-ibkr-sim-"))
        extra = () if is_loopback(self.host) else (self.host,)
        self.cert_path, key_path, self.cert_fingerprint = generate_certificate(self._tmp, extra)
        if self.state.oauth is not None:
            directory = self.oauth_dir or self._tmp / "oauth"
            try:
                self.oauth_credentials = self.state.oauth.write_credentials(
                    directory, self.cert_path, force=self.oauth_force
                )
            except ConfigError:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None
                raise
        sock = listening_socket(self.host)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        app, self.api = build_app(self.state, self.heartbeat_interval)
        config = uvicorn.Config(
            app,
            ssl_certfile=str(self.cert_path),
            ssl_keyfile=str(key_path),
            ws="websockets-sansio",
            lifespan="on",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            date_header=False,  # MarkSimulator sends Date from the simulator's clock
        )
        self._server = _Uvicorn(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"axion-ibkr-sim:{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the simulator did not start")
            time.sleep(0.01)
        # The TLS context holds the private key now: remove its file at once, so that a simulator
        # killed without stop() (SIGKILL, a crashed test) leaves no private key on disk.
        key_path.unlink(missing_ok=True)
        log.info("IBKR gateway simulator listening on %s", self.root_url)
        return self

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            if self.api is not None:
                self.api.begin_stop()
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._server = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------------

    root_url = _Url("https", "")
    base_url = _Url("https", "/v1/api")
    ws_url = _Url("wss", "/v1/api/ws")

    @property
    def admin(self) -> SimAdmin:
        if self._admin is None:
            verify = ssl.create_default_context(cafile=str(self.cert_path)) if self.cert_path else True
            self._admin = SimAdmin(self.root_url, verify=verify)
        return self._admin

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __repr__(self) -> str:
        return f"SimServer({self.root_url}, running={self._thread is not None})"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(
    host: str = "127.0.0.1",
    port: int = 5000,
    seed: int = 0,
    logged_in: bool = True,
    allow_remote: bool = False,
    **kwargs: Any,
) -> int:
    """Run the simulator in the foreground until interrupted (``axion-ibkr sim``).

    Returns 0 after a clean stop (Ctrl-C / SIGTERM), 2 when it cannot start (bad bind address,
    port in use).
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A standalone simulator stands in for a real gateway: IBKR's penalty length unless told otherwise
    # (SimServer's own default is the short one the tests use).
    kwargs.setdefault("penalty_seconds", IBKR_PENALTY_SECONDS)
    kwargs.setdefault("resets", ResetSchedule())  # and IBKR's nightly reset / Saturday maintenance
    try:
        server = SimServer(
            host=host, port=port, seed=seed, logged_in=logged_in, allow_remote=allow_remote, **kwargs
        )
        server.start()
    except (ConfigError, OSError) as exc:
        log.error("cannot start the simulator: %s", exc)
        return 2
    log.info("REST %s  WebSocket %s", server.base_url, server.ws_url)
    log.info("certificate %s (%s)", server.cert_path, server.cert_fingerprint)
    if server.oauth_credentials is not None:
        log.info(
            "OAuth 1.0a: credentials %s (set oauth_credentials to it, oauth_base_url=%s, ssl_verify=%s)",
            server.oauth_credentials,
            server.base_url,
            server.oauth_credentials.parent / "ca.pem",
        )
    log.info("admin paths under %s/sim/ ; Ctrl-C to stop", server.root_url)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        while server.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        log.info("stopping the simulator")
    finally:
        server.stop()
    return 0
