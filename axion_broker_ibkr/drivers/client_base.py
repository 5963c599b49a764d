"""What the sync and async clients share besides the core: TLS, mode resolution, the driver
boundary of the request loop, and one-line delegations to the order path (:mod:`..ops.orderpath`:
order preparation, the checks that protect money, the journal writes; order groups in
:mod:`..ops.groupflow`).

Nothing here performs HTTP; the two drivers (:mod:`.client_sync`, :mod:`.client_async`, both
re-exported by :mod:`axion_broker_ibkr.client`) do. The request loop's decisions (retry, the 429
back-off, one re-authentication, status -> exception) are :mod:`.requestpolicy`'s, over plain
values: :func:`answer_of` and :func:`failure_of` convert httpx's objects into them.
"""

from __future__ import annotations

import atexit
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .. import models as m
from ..config import IBKRConfig, takes_over_competing
from ..errors import GatewayError, ModeError, ResetWindowError
from ..masking import mask_text
from ..ops import effects, groupflow, iserver, orderpath, resets
from ..ops import requestpolicy as rp
from ..ops.journal import ContractCache, JournalEntry, ModificationRef, OrderJournal, require_order_journal
from ..ops.requestpolicy import ACCOUNT_SESSION_PATHS as ACCOUNT_SESSION_PATHS  # re-exported
from ..ops.requestpolicy import SESSION_PATHS as SESSION_PATHS  # re-exported
from ..orders.groups import is_group
from .pacing import Pacer, RetryPolicy
from .pacing_stores import MemoryStore, PacingStore, open_pacing_store
from .probe import auto_reason, gateway_listening
from .tls import certificate_failure, config_trust, context_trusting, untrusted_error
from .tls import config_ssl_context as config_ssl_context  # re-exported
from .tls import fingerprint_of as fingerprint_of  # re-exported
from .tls import pinned_context as pinned_context  # re-exported

if TYPE_CHECKING:
    from ..oauth.auth import OAuthSession
    from ..orders import TranslateOptions
    from ..orders.groups import OrderGroup
    from ..sim import SimServer

log = logging.getLogger("axion_broker_ibkr.client")
T = TypeVar("T")
ContractLike = m.IBKRContract | Mapping[str, Any]


class _MaskAccounts(logging.Filter):
    """httpx logs every request URL at INFO; IBKR puts account ids in paths: mask them."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask_text(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


# httpx logs request URLs; httpcore and websockets (DEBUG) log request lines and headers, which in
# oauth mode carry the access token (``?oauth_token=``) and the signed Authorization header.
for _name in ("httpx", "httpcore.http11", "httpcore.connection", "websockets.client", "websockets"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _MaskAccounts) for f in _logger.filters):
        _logger.addFilter(_MaskAccounts())

USER_AGENT = "axion-broker-ibkr/0.1"
HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}
#: How often a request waits for a concurrency slot another process holds (seconds).
LEASE_POLL_S = 0.02


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "localhost", parts.port or 443


# --------------------------------------------------------------------------------------------
# The driver boundary: httpx's objects -> the request policy's plain values (nothing past here
# reads an httpx.Response or httpx.HTTPError)


def answer_of(resp: httpx.Response) -> rp.Answer:
    """The plain :class:`~.requestpolicy.Answer` of an httpx response (JSON body parsed; the text
    kept only when it is not JSON)."""
    try:
        data = resp.json() if resp.content else None
    except ValueError:
        data = None
    return rp.Answer(
        status_code=resp.status_code,
        headers=dict(resp.headers.items()),  # names lower-cased by httpx; repeats comma-joined
        data=data,
        text=resp.text if data is None else "",
        received_at=time.time(),
    )


#: httpx's transport errors -> :class:`~.requestpolicy.TransportFailure` kinds (subclasses first).
_KINDS: tuple[tuple[type[httpx.HTTPError], rp.FailureKind], ...] = (
    (httpx.ConnectTimeout, "connect-timeout"),
    (httpx.PoolTimeout, "pool-timeout"),
    (httpx.ReadTimeout, "read-timeout"),
    (httpx.WriteTimeout, "write-timeout"),
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connect"),
    (httpx.UnsupportedProtocol, "unsupported-protocol"),
    (httpx.ReadError, "read"),
    (httpx.WriteError, "write"),
    (httpx.ProtocolError, "protocol"),
)


def failure_of(exc: httpx.HTTPError) -> rp.TransportFailure:
    """The plain :class:`~.requestpolicy.TransportFailure` of an httpx error: a certificate that
    failed verification is ``certificate``, another TLS failure while connecting ``tls``."""
    kind: rp.FailureKind = next((k for cls, k in _KINDS if isinstance(exc, cls)), "other")
    if certificate_failure(exc) is not None:
        kind = "certificate"
    elif kind == "connect" and _tls_failure(exc):
        kind = "tls"
    return rp.TransportFailure(kind=kind, name=type(exc).__name__, detail=str(exc), cause=exc)


def _tls_failure(exc: BaseException) -> bool:
    """Whether an ``ssl.SSLError`` is behind ``exc`` (httpx wraps it twice)."""
    return any(isinstance(e, ssl.SSLError) for e in _causes(exc))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


# --------------------------------------------------------------------------------------------
# The embedded simulator (one per process, started on demand)

_SIM_LOCK = threading.Lock()
_EMBEDDED: SimServer | None = None


def embedded_sim() -> SimServer:
    """Start (once) and return the process's embedded simulator on a free loopback port."""
    global _EMBEDDED
    with _SIM_LOCK:
        if _EMBEDDED is None:
            from ..sim import SimServer

            server = SimServer(host="127.0.0.1", port=0)
            server.start()
            atexit.register(server.stop)
            _EMBEDDED = server
            log.warning(
                "started the embedded IBKR SIMULATOR at %s (paper market, no real orders)", server.root_url
            )
        return _EMBEDDED


# --------------------------------------------------------------------------------------------


class Endpoint:
    """Where a client talks to once its mode is resolved."""

    def __init__(self, mode: str, root_url: str, base_path: str, reason: str, fallback: bool = False) -> None:
        self.mode = mode
        self.root_url = root_url.rstrip("/")
        self.base_url = self.root_url + base_path
        self.reason = reason
        self.fallback = fallback
        parts = urlsplit(self.root_url)
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 443

    @property
    def ws_url(self) -> str:
        return "wss://" + self.base_url.split("://", 1)[1] + "/ws"


class ClientBase:
    """State and decisions common to :class:`IBKRClient` and :class:`AsyncIBKRClient`."""

    def __init__(
        self,
        config: IBKRConfig | None = None,
        *,
        pacer: Pacer | None = None,
        transport: Any = None,
        journal: OrderJournal | None = None,
        cache: ContractCache | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = config if config is not None else IBKRConfig.from_env()
        #: The pacer was built here (its store follows the endpoint), not handed in by the caller.
        self._own_pacer = pacer is None
        self.pacer = pacer if pacer is not None else self._default_pacer()
        self.retry = retry if retry is not None else RetryPolicy(max_attempts=self.config.max_attempts)
        self.journal = journal
        self.cache = cache
        self.state = effects.SessionState()
        self._transport = transport
        self._endpoint: Endpoint | None = None
        self._ssl: ssl.SSLContext | None = None
        self._sim: SimServer | None = None
        #: SHA-256 (hex) of the gateway certificate this client is pinned to (a ``sha256:`` pin, or
        #: the certificate seen at connect with ``ssl_verify=False``); ``None`` otherwise.
        self.trusted_fingerprint: str | None = None
        self.reauthentications = 0
        #: The gateway's clock minus ours (from its Date header), and when (gateway time) the
        #: brokerage session was last seen authenticated: the reset guard reads both.
        self._server_offset = 0.0
        self._server_date: str | None = None
        self.session_seen_at: float | None = None
        self._resets: resets.ResetSchedule | None = None
        #: What the order path keeps for this client: held questions (``hold_questions=True``, by
        #: cOID, or by IBKR order id for a modification the log does not know) and the contract
        #: rules fetched for contracts traded without them (:class:`~.orderpath.OrderDesk`).
        self._desk = orderpath.OrderDesk(state=self.state, settings=self._order_settings)
        #: True while the start-up sequence runs after a lost session (its own account reads must
        #: not trigger another re-authentication).
        self._rebuilding_session = False
        #: Epoch seconds now: a held question's reply window is measured with it (tests move it).
        self.clock: Callable[[], float] = time.time
        #: ``oauth`` mode: the live session token that signs every request
        self._oauth: OAuthSession | None = None
        if self.config.mode == "gateway" or (self.config.mode == "sim" and self.config.sim_url):
            self._endpoint = self._configured_endpoint()
        elif self.config.mode == "sim":
            self._endpoint = self._sim_endpoint("sim mode")
        elif self.config.mode == "oauth":
            self._endpoint = self._oauth_endpoint("oauth mode")

    def _default_pacer(self) -> Pacer:
        """A pacer whose budget is shared with every process pacing the same gateway (config
        ``pacing_store``); the embedded simulator of ``sim`` mode is this process's own."""
        cfg = self.config
        if cfg.mode == "sim" and not cfg.sim_url:
            store: PacingStore = MemoryStore()
        else:
            if cfg.mode == "sim" and cfg.sim_url:
                host, port = _host_port(cfg.sim_url)
            elif cfg.mode == "oauth":
                host, port = _host_port(cfg.oauth_base_url)  # IBKR paces the account's Web API
            else:
                host, port = cfg.gateway_host, cfg.gateway_port
            store = open_pacing_store(cfg, host, port)
        return Pacer(cfg.max_requests_per_minute, rate_limit_backoff=cfg.rate_limit_backoff, store=store)

    @property
    def journal(self) -> OrderJournal | None:
        """The write-ahead order log (``None``: orders and modifications are not logged)."""
        return self._journal

    @journal.setter
    def journal(self, journal: OrderJournal | None) -> None:
        # A journal without some OrderJournal method (e.g. an older third-party one without
        # record_modification) is refused here, not discovered when an order is on its way.
        if journal is not None:
            require_order_journal(journal)
        self._journal = journal

    # ---------------------------------------------------------------------------------- mode

    def _configured_endpoint(self) -> Endpoint:
        if self.config.mode == "sim" and self.config.sim_url:
            return Endpoint(
                "sim", self.config.sim_url, self.config.base_path, "attached to a running simulator"
            )
        return Endpoint("gateway", self.config.gateway_root, self.config.base_path, "configured gateway")

    def _sim_endpoint(self, reason: str, *, fallback: bool = False) -> Endpoint:
        if self._transport is not None:
            # Tests: a mock transport stands for the simulator too.
            return Endpoint("sim", "https://127.0.0.1:1", self.config.base_path, reason, fallback)
        self._sim = embedded_sim()
        if self._own_pacer and self.pacer.store.name != "memory":
            # ``auto`` fell back to this process's own simulator: no other process shares it.
            self.pacer.use_store(MemoryStore())
        if self._sim.cert_path is None:
            raise ModeError("the embedded simulator has no TLS certificate yet")
        self._ssl = context_trusting(Path(self._sim.cert_path).read_text(encoding="ascii"))
        self.trusted_fingerprint = None
        return Endpoint("sim", self._sim.root_url, self.config.base_path, reason, fallback)

    def _oauth_endpoint(self, reason: str) -> Endpoint:
        """IBKR's Web API with OAuth 1.0a: the credentials are loaded (and checked) now; the live
        session token is obtained with the first request (:class:`~.oauth.session.OAuthAuth`)."""
        from ..oauth.auth import OAuthSession
        from ..oauth.credentials import credentials_from_config

        url = self.config.oauth_base_url
        parts = urlsplit(url)
        root = f"{parts.scheme}://{parts.netloc}"
        self._oauth = OAuthSession(credentials_from_config(self.config), url)
        if self._own_pacer and self.config.mode != "oauth":
            # ``auto`` chose OAuth: the budget is the Web API's, not the local gateway's.
            self.pacer.use_store(open_pacing_store(self.config, *_host_port(url)))
        return Endpoint("oauth", root, parts.path, reason)

    @property
    def oauth_token_expires_at(self) -> float | None:
        """``oauth`` mode: when the live session token expires (epoch seconds, IBKR's clock)."""
        return self._oauth.expires_at if self._oauth is not None else None

    @property
    def oauth_refreshes(self) -> int:
        """``oauth`` mode: how many times the live session token was replaced by a new one."""
        return self._oauth.refreshes if self._oauth is not None else 0

    def _gateway_listening(self) -> bool:
        """The ``auto`` probe (:mod:`axion_broker_ibkr.drivers.probe`): does anything accept a TCP
        connection at the configured gateway address? Blocking."""
        cfg = self.config
        return gateway_listening(cfg.gateway_host, cfg.gateway_port, cfg.probe_timeout)

    def _choose_after_probe(self, listening: bool) -> Endpoint:
        """``auto``: anything listening is the gateway (trusted or not, logged in or not; its
        errors then say so); the simulator only when nothing accepts a connection."""
        cfg = self.config
        reason = auto_reason(cfg.gateway_host, cfg.gateway_port, listening)
        if listening:
            log.info("auto mode: using the IBKR gateway at %s", cfg.gateway_root)
            return Endpoint("gateway", cfg.gateway_root, cfg.base_path, reason)
        if cfg.oauth_configured:
            # Credentials mean a real account: never the simulator (a bad credential is an error).
            log.info("auto mode: no gateway at %s -> OAuth 1.0a at %s", cfg.gateway_root, cfg.oauth_base_url)
            return self._oauth_endpoint(f"{reason}; OAuth credentials are configured")
        log.warning(
            "auto mode: nothing accepts connections at %s -> using the embedded SIMULATOR; "
            "nothing here reaches a real account",
            cfg.gateway_root,
        )
        return self._sim_endpoint(reason, fallback=True)

    @property
    def mode(self) -> str:
        """``gateway`` or ``sim``; ``auto`` until the first request resolves it."""
        return self._endpoint.mode if self._endpoint is not None else "auto"

    @property
    def mode_reason(self) -> str:
        return self._endpoint.reason if self._endpoint is not None else "not resolved yet"

    @property
    def is_fallback(self) -> bool:
        return self._endpoint is not None and self._endpoint.fallback

    @property
    def base_url(self) -> str:
        return self._endpoint.base_url if self._endpoint is not None else self.config.gateway_url

    @property
    def ws_url(self) -> str:
        if self._endpoint is not None and self._oauth is not None:
            from ..oauth.auth import oauth_ws_url

            return oauth_ws_url(self._endpoint.ws_url, self._oauth.credentials.access_token)
        return (
            self._endpoint.ws_url
            if self._endpoint is not None
            else Endpoint("auto", self.config.gateway_root, self.config.base_path, "").ws_url
        )

    @property
    def login_url(self) -> str:
        return (self._endpoint.root_url if self._endpoint is not None else self.config.gateway_root) + "/"

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The SSLContext used for REST and for the WebSocket (pinning aware)."""
        if self._ssl is None:
            host, port = self.peer
            self._trust(host, port)
        assert self._ssl is not None
        return self._ssl

    @property
    def peer(self) -> tuple[str, int]:
        """``(host, port)`` this client talks to (the configured gateway until ``auto`` is resolved)."""
        ep = self._endpoint
        return (ep.host, ep.port) if ep is not None else (self.config.gateway_host, self.config.gateway_port)

    def _trust(self, host: str, port: int) -> ssl.SSLContext:
        """Build (and keep, for the life of the client) the trust towards ``host:port``; may fetch
        the certificate (pin, first use). Blocking."""
        trust = config_trust(self.config, host, port)
        self._ssl, self.trusted_fingerprint = trust.context, trust.fingerprint
        return trust.context

    def _untrusted(self, step: rp.Untrusted) -> GatewayError:
        """The error for a failed certificate verification (fetches the presented certificate)."""
        failure = certificate_failure(step.failure.cause) if step.failure.cause is not None else None
        if failure is None:  # a certificate failure made by hand (tests): nothing more to say
            failure = ssl.SSLCertVerificationError(step.failure.detail or "certificate verify failed")
        host, port = self.peer
        return untrusted_error(
            host, port, failure, timeout=self.config.connect_timeout, trusted=self.trusted_fingerprint
        )

    @property
    def account_id(self) -> str | None:
        """The account orders go to: the configured one, else the gateway's selected account."""
        return orderpath.default_account(self.config.account_id, self.state.accounts)

    # ----------------------------------------------------------------------------- decisions

    def _concurrency(self, req: effects.Request) -> tuple[str, int] | None:
        """``(rule, cap)`` for an endpoint IBKR caps by concurrency (history), else ``None``."""
        return self.pacer.max_concurrent(req.method, req.path)

    @property
    def _lease_ttl(self) -> float:
        """How long a concurrency slot is held at most (a request cannot take longer)."""
        return self.config.request_timeout + 5.0

    def _policy(self) -> rp.Policy:
        """The request policy's view of this client, as values (taken when a request starts)."""
        return rp.Policy(
            retry=self.retry,
            login_url=self.login_url,
            base_url=self.base_url,
            oauth=self._oauth is not None,
            rebuilding_session=self._rebuilding_session,
        )

    def _answered(self, req: effects.Request, raw: httpx.Response) -> rp.Answer:
        """The driver boundary for an answer: the plain value, and the server facts it carries
        recorded (:meth:`_note_server`)."""
        answer = answer_of(raw)
        self._note_server(req, answer)
        return answer

    def _note_server(self, req: effects.Request, answer: rp.Answer) -> None:
        """Keep the gateway's clock (its Date header: IBKR's resets are on the server's time) and
        when the brokerage session was last seen authenticated (the reset guard's "it is back")."""
        date = answer.headers.get("date")
        if date and date != self._server_date:
            self._server_date = date
            offset = rp.server_offset(answer)
            if offset is not None:
                self._server_offset = offset
        if rp.says_authenticated(req, answer.response):
            self.session_seen_at = self.server_time()

    def _penalize(self, step: rp.Penalize) -> None:
        """An HTTP 429 (the policy's :class:`~.requestpolicy.Penalize`): the pacer blocks traffic."""
        backoff = self.pacer.penalize(step.retry_after)
        log.warning(
            "HTTP 429 on %s %s: pausing this client's traffic for %.1f s",
            step.request.method,
            mask_text(step.request.path),
            backoff,
        )

    def server_time(self) -> float:
        """The gateway's present (epoch seconds), from the Date of its last answer (1 s grain)."""
        return time.time() + self._server_offset

    def _reset_hold(self) -> resets.Hold | None:
        cfg = self.config
        minutes = resets.DEFAULT_HOLD_MINUTES if cfg.reset_hold_minutes is None else cfg.reset_hold_minutes
        if minutes <= 0:
            return None
        if self._resets is None or self._resets.timezone != cfg.reset_timezone:
            self._resets = resets.ResetSchedule(timezone=cfg.reset_timezone)
        seen = self.session_seen_at
        return self._resets.hold(self.server_time(), hold_minutes=minutes, session_back_at=seen)

    def _reset_guard_op(self) -> effects.Op[None]:
        """Before an order or modification: hold it around IBKR's reset / maintenance windows
        (:class:`ResetWindowError`, nothing sent, nothing logged). Once a window is over, the
        start-up sequence is run again; if the session is back, the order goes out."""
        hold = self._reset_hold()
        if hold is not None and hold.over:
            try:
                yield from iserver.auth_status()  # the Date header and the session's state, fresh
                hold = self._reset_hold()
                if hold is not None:
                    self.state.reset()
                    yield from self._session_op()
                    self.session_seen_at = self.server_time()
                    hold = None
            except GatewayError:
                hold = self._reset_hold() or hold
        if hold is not None:
            log.warning("%s", hold.message)
            raise ResetWindowError(hold.message, retry_at=hold.retry_at, window=hold.window.describe())
        return None

    def _record(self, effect: effects.JournalEffect) -> ModificationRef | JournalEntry | None:
        """Write one journal effect (blocking): :func:`.orderpath.record`."""
        return orderpath.record(self.journal, effect)

    def _note_reauth(self) -> None:
        self.reauthentications += 1
        log.warning("brokerage session lost; re-opening it (ssodh/init), attempt #%d", self.reauthentications)

    def _http_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        timeout = httpx.Timeout(cfg.request_timeout, connect=cfg.connect_timeout)
        kwargs: dict[str, Any] = {"base_url": self.base_url, "headers": HEADERS, "timeout": timeout}
        if self._transport is not None:
            kwargs["transport"] = self._transport
        else:
            kwargs["verify"] = self.ssl_context
        if self._oauth is not None:
            from ..oauth.auth import OAuthAuth

            kwargs["auth"] = OAuthAuth(self._oauth)
        return kwargs

    def _probe_kwargs(self) -> dict[str, Any]:
        kwargs = {
            "base_url": self.config.gateway_url,
            "headers": HEADERS,
            "timeout": self.config.probe_timeout,
        }
        if self._transport is not None:
            kwargs["transport"] = self._transport
        return kwargs

    # ------------------------------------------------------------------------------- orders
    # The order path is :mod:`.orderpath` (account -> checks -> intent -> payload -> write-ahead
    # log -> POST -> question/reply loop -> fills -> settle); these are its one-line delegations.

    def _order_settings(self) -> orderpath.OrderSettings:
        """What the order path reads from this client (called when an order is checked)."""
        cfg = self.config
        return orderpath.OrderSettings(
            mode=self.mode, fallback=self.is_fallback, configured_account=cfg.account_id,
            allow_live_trading=cfg.allow_live_trading, auto_confirm=frozenset(cfg.auto_confirm),
            max_rounds=cfg.max_question_rounds, allow_fractional=cfg.allow_fractional,
            futures_operator=cfg.futures_operator, manual_orders=cfg.manual_orders,
            logged=self.journal is not None, clock=lambda: self.clock(),
        )  # fmt: skip

    def _account_op(self, account_id: str | None) -> effects.Op[str]:
        return orderpath.account(self.state, self.config.account_id, account_id)

    def translate_options(self, account_id: str | None = None) -> TranslateOptions:
        """The options this client translates orders with (``account_id``: default :attr:`account_id`)."""
        return self._order_settings().translate_options(account_id or self.account_id)

    def _payload_op(self, order: Mapping[str, Any], contract: ContractLike) -> effects.Op[dict[str, Any]]:
        return orderpath.payload(self._desk, order, contract)

    def _group_op(self, order: Mapping[str, Any], contract: ContractLike) -> effects.Op[OrderGroup]:
        return groupflow.group(self._desk, order, contract)

    def _place_op(
        self,
        order: Mapping[str, Any],
        contract: ContractLike,
        confirm: Iterable[str] = (),
        hold: bool = False,
    ) -> effects.Op[m.OrderResult]:
        if is_group(order):
            return groupflow.place_group_order(
                self._desk, order, contract, confirm, hold, guard=self._reset_guard_op()
            )
        return orderpath.place(self._desk, order, contract, confirm, hold, guard=self._reset_guard_op())

    def _modify_op(
        self,
        order_id: str | int,
        order: Mapping[str, Any],
        contract: ContractLike | None,
        confirm: Iterable[str] = (),
        hold: bool = False,
    ) -> effects.Op[m.OrderResult]:
        # A logged group leg's quantity change moves its group; anything else is one order's.
        return groupflow.modify(
            self._desk, order_id, order, contract, confirm, hold, guard=self._reset_guard_op()
        )

    def _modify_group_op(
        self,
        client_order_id: str,
        changes: Mapping[str, Mapping[str, Any]],
        contract: ContractLike | None,
        confirm: Iterable[str] = (),
    ) -> effects.Op[m.OrderResult]:
        guard = self._reset_guard_op()
        return groupflow.modify_group_order(
            self._desk, client_order_id, changes, contract, confirm, guard=guard
        )

    def held_question(self, client_order_id: str) -> m.PendingQuestion | None:
        """The question held for order ``client_order_id`` (``hold_questions=True``), if any."""
        return self._desk.held_question(client_order_id)

    def _answer_op(self, client_order_id: str, yes: bool) -> effects.Op[m.OrderResult]:
        return orderpath.answer_held(self._desk, client_order_id, yes)

    def _whatif_op(self, order: Mapping[str, Any], contract: ContractLike) -> effects.Op[m.WhatIf]:
        return orderpath.whatif_order(self._desk, order, contract)

    def _cancel_op(
        self, order_id: str | int, account_id: str | None, sec_type: str | None
    ) -> effects.Op[m.CancelAck]:
        return orderpath.cancel(self._desk, order_id, account_id, sec_type)

    def _session_op(self, *, tickle_after: bool = False) -> effects.Op[iserver.StartupResult]:
        """IBKR's start-up sequence; while it runs, its own account reads never re-authenticate
        (it waits out "no bridge" itself)."""
        self._rebuilding_session = True
        try:
            return (
                yield from iserver.open_session(
                    self.state,
                    take_over=takes_over_competing(self.config),
                    # Session-wide suppression only when configured as such; auto_confirm answers per order.
                    suppress=self.config.suppress_questions,
                    tickle_after=tickle_after,
                )
            )
        finally:
            self._rebuilding_session = False

    def _with_account(self, account_id: str | None, make: Callable[[str], effects.Op[T]]) -> effects.Op[T]:
        account = yield from self._account_op(account_id)
        return (yield from make(account))
