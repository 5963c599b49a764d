"""The page's one way to data: a client (plus gateway monitor and stream) built from ``AXION_IBKR_*``.

:func:`open_session` is plain Python (tests call it directly); :func:`get_session` caches one
session per distinct configuration with ``st.cache_resource``, so every browser tab of one
Streamlit server shares the client, its pacer and its WebSocket.

Mode ``auto`` (the default) uses the configured gateway whenever something accepts a connection
on its port (an untrusted certificate or a 401 is then reported, not a reason to fall back), else
the simulator, and the banner says so. ``axion-ibkr dashboard`` starts the simulator itself
and hands its URL and certificate pin over in ``AXION_IBKR_SIM_URL`` / ``AXION_IBKR_SSL_VERIFY``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import streamlit as st
from attrs import define, evolve, field

from ..client import IBKRClient
from ..config import ENV_PREFIX, IBKRConfig
from ..drivers.pacing import Pacer
from ..gateway import IBKRGateway
from ..lifecycle import OrderLog as OrderLog  # re-exported: the page's order log is the session's
from ..lifecycle import follow_order_stream, open_sync_session
from ..lifecycle import open_order_log as session_open_order_log
from ..masking import mask_text
from ..orders import TranslateOptions
from ..store.memory import MemoryContractCache
from .launcher import FALLBACK_ENV

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..streaming import SyncStreaming

log = logging.getLogger(__name__)

#: Tests only: scales the client's pacer to match a simulator started with the same ``rate_scale``
#: (outside ``AXION_IBKR_*``, which IBKRConfig validates strictly).
PACER_SCALE_ENV = "AXION_DASHBOARD_IBKR_PACER_SCALE"


def open_order_log(config: IBKRConfig) -> OrderLog:
    """The page's :class:`~axion_broker_ibkr.lifecycle.OrderLog` (the session lifecycle's rules:
    database, else a log that refuses every order and says why, never a silent in-memory log;
    ``database_url="memory"`` is the explicit opt-out)."""
    return session_open_order_log(config, cache=MemoryContractCache(), who="dashboard")


@define(kw_only=True, eq=False)
class DashboardSession:
    """Everything the tabs read from: the client, the gateway monitor and (lazily) the stream."""

    config: IBKRConfig
    client: IBKRClient
    gateway: IBKRGateway
    order_log: OrderLog
    fallback: bool = False
    _streaming: SyncStreaming | None = None
    _unfollow: Callable[[], None] | None = None
    streaming_error: str | None = None
    _lock: threading.Lock = field(factory=threading.Lock)

    @property
    def mode(self) -> str:
        return self.client.mode

    @property
    def account_id(self) -> str | None:
        return self.client.account_id

    @property
    def running_stream(self) -> SyncStreaming | None:
        """The stream if it was started already (``None`` otherwise); never starts one."""
        return self._streaming

    def streaming(self) -> SyncStreaming | None:
        """The shared :class:`~axion_broker_ibkr.streaming.SyncStreaming`, started on first use;
        ``None`` (and ``streaming_error`` set) when it cannot run, so the page falls back to REST.
        Its order states and executions keep the order log current (``store.follow``)."""
        with self._lock:
            if self._streaming is not None or self.streaming_error is not None:
                return self._streaming
            try:
                from ..client import AsyncIBKRClient
                from ..streaming import SyncStreaming as Stream

                config = self.resolved_config()
                # One pacer for both clients: IBKR paces per user, not per connection.
                stream = Stream(partial(AsyncIBKRClient, config, pacer=self.client.pacer))
                stream.start(connect_timeout=10.0)
                stream.subscribe_orders()
                self._streaming = stream
                self._unfollow = follow_order_stream(self.order_log, stream)
            except Exception as exc:  # the page shows REST snapshots instead and says why
                self.streaming_error = mask_text(f"{type(exc).__name__}: {exc}")
                log.warning("streaming unavailable: %s", self.streaming_error)
            return self._streaming

    def resolved_config(self) -> IBKRConfig:
        """The configuration pinned to the endpoint the client resolved (``auto`` -> ``gateway`` or
        ``sim``), for a second client on the same gateway (the stream). In ``sim`` mode without
        ``sim_url`` the second client attaches to the process's one embedded simulator, the same one."""
        if self.client.mode == "auto":
            self.client.auth_status()  # resolves the mode
        changes: dict[str, Any] = {"mode": self.client.mode}
        trusted = self.client.trusted_fingerprint
        if self.config.ssl_verify is False and trusted and self.client.mode == "gateway":
            # Trust on first use: the second client trusts the certificate the first one saw.
            changes["ssl_verify"] = f"sha256:{trusted}"
        return evolve(self.config, **changes)

    def translate_options(self) -> TranslateOptions:
        """The options the client translates this page's orders with (for local validation)."""
        return self.client.translate_options()

    def close(self) -> None:
        with self._lock:
            if self._unfollow is not None:
                self._unfollow()
                self._unfollow = None
            if self._streaming is not None:
                try:
                    self._streaming.close()
                except Exception:
                    log.exception("stopping the stream failed")
                self._streaming = None
        self.gateway.stop()
        self.client.close()
        self.order_log.close()


def config_env(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The part of the environment that defines a session (the cache key of :func:`get_session`)."""
    own = {FALLBACK_ENV, PACER_SCALE_ENV}
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith(ENV_PREFIX) or k in own))


def open_session(env: Mapping[str, str] | None = None) -> DashboardSession:
    """Build the client from ``AXION_IBKR_*`` (``env``, default ``os.environ``) and connect it."""
    env = os.environ if env is None else env
    # Every order on the page is typed and confirmed by a person: manualIndicator=true (CME 536-B).
    config = evolve(IBKRConfig.from_env(env), manual_orders=True)
    scale = env.get(PACER_SCALE_ENV)
    pacer = None
    if scale:
        pacer = Pacer(
            config.max_requests_per_minute, scale=float(scale), rate_limit_backoff=config.rate_limit_backoff
        )
    # The session lifecycle: the order log, the start-up sequence (resolves auto mode, opens the
    # session), the tickle keep-alive, then the rows a crash left pending are settled. A gateway
    # that is not logged in is reported by the status and the Gateway tab, not raised.
    order_log = open_order_log(config)
    opened = open_sync_session(config, pacer=pacer, order_log=order_log, keepalive=True)
    client = opened.client
    fallback = env.get(FALLBACK_ENV) == "1" or client.is_fallback
    return DashboardSession(
        config=config, client=client, fallback=fallback, gateway=opened.gateway, order_log=order_log
    )


#: Sessions the cache has handed out, so that :func:`reset_sessions` can stop their keep-alive and
#: stream threads (clearing Streamlit's cache alone would leave them running).
_opened: list[DashboardSession] = []
_opened_lock = threading.Lock()


@st.cache_resource(show_spinner="Connecting to the gateway…", max_entries=4)
def _cached_session(key: tuple[tuple[str, str], ...]) -> DashboardSession:
    session = open_session(dict(key))
    with _opened_lock:
        _opened.append(session)
    return session


def get_session() -> DashboardSession:
    """The session for the current environment, shared by every page view of this server."""
    return _cached_session(config_env(os.environ))


def reset_sessions() -> None:
    """Close and forget the cached sessions (tests point the page at another simulator)."""
    _cached_session.clear()
    with _opened_lock:
        sessions = list(_opened)
        _opened.clear()
    for session in sessions:
        try:
            session.close()
        except Exception:
            log.exception("closing a dashboard session failed")


def apply_settings(changes: Mapping[str, Any]) -> int:
    """Give every open session (its config and its client's) these settings now, without reconnecting
    (the Gateway tab's per-user settings: a new start-up sequence would spend IBKR's 1-per-5-s budget
    of ``/portfolio/accounts`` and restart the stream). Returns how many sessions were updated."""
    with _opened_lock:
        sessions = list(_opened)
    for session in sessions:
        session.config = evolve(session.config, **changes)
        session.client.config = evolve(session.client.config, **changes)
    return len(sessions)
