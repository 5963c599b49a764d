"""What the sync and async clients share besides the core: TLS, mode resolution, order preparation,
the driver boundary of the request loop and the journal writes.

Nothing here performs HTTP; the two drivers (:mod:`.client_sync`, :mod:`.client_async`, both
re-exported by :mod:`axion_broker_ibkr.client`) do. The request loop's decisions (retry, the 429
back-off, one re-authentication, status -> exception) are :mod:`.requestpolicy`'s, over plain
values: :func:`answer_of` and :func:`failure_of` convert httpx's objects into them.
"""

from __future__ import annotations

import atexit
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import attrs
import httpx

from . import core, orderflow
from . import models as m
from . import requestpolicy as rp
from .config import IBKRConfig, takes_over_competing
from .errors import (
    ConfigError,
    GatewayError,
    LiveTradingNotAllowedError,
    ModeError,
    OrderRejectedError,
    OrderValidationError,
    ResetWindowError,
)
from .journal import ContractCache, JournalEntry, ModificationRef, OrderJournal, require_order_journal
from .masking import is_paper_account, mask_account, mask_text
from .orders.fields import check_order_keys
from .orders.status import status_info
from .pacing import Pacer, RetryPolicy
from .pacing_stores import MemoryStore, PacingStore, open_pacing_store
from .probe import auto_reason, gateway_listening
from .requestpolicy import ACCOUNT_SESSION_PATHS as ACCOUNT_SESSION_PATHS  # re-exported
from .requestpolicy import SESSION_PATHS as SESSION_PATHS  # re-exported
from .tls import (
    certificate_failure,
    config_trust,
    context_trusting,
    untrusted_error,
)
from .tls import config_ssl_context as config_ssl_context  # re-exported
from .tls import fingerprint_of as fingerprint_of  # re-exported
from .tls import pinned_context as pinned_context  # re-exported

if TYPE_CHECKING:
    from .oauth.session import OAuthSession
    from .orders import TranslateOptions
    from .orders.groups import OrderGroup
    from .resets import Hold, ResetSchedule
    from .sim import SimServer

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
            from .sim import SimServer

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
        self.state = core.SessionState()
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
        self._resets: ResetSchedule | None = None
        #: ``(conid, is_buy)`` -> the rule keys of :data:`~axion_broker_ibkr.models.contracts.RULE_KEYS`
        #: for contracts traded without rules (built by hand, bulk-resolved): fetched once per side.
        self._contract_rules: dict[tuple[int, bool], dict[str, Any]] = {}
        #: True while the start-up sequence runs after a lost session (its own account reads must
        #: not trigger another re-authentication).
        self._rebuilding_session = False
        #: Orders whose IBKR question is held for the caller (``hold_questions=True``), by cOID (or,
        #: for a modification of an order the log does not know, by IBKR order id).
        self._held: dict[str, orderflow.HeldOrder] = {}
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
        from .oauth.credentials import credentials_from_config
        from .oauth.session import OAuthSession

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
        """The ``auto`` probe (:mod:`axion_broker_ibkr.probe`): does anything accept a TCP
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
            from .oauth.session import oauth_ws_url

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
        if self.config.account_id:
            return self.config.account_id
        accts = self.state.accounts
        if accts is None:
            return None
        return accts.selected_account or (accts.accounts[0] if accts.accounts else None)

    # ----------------------------------------------------------------------------- decisions

    def _concurrency(self, req: core.Request) -> tuple[str, int] | None:
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

    def _answered(self, req: core.Request, raw: httpx.Response) -> rp.Answer:
        """The driver boundary for an answer: the plain value, and the server facts it carries
        recorded (:meth:`_note_server`)."""
        answer = answer_of(raw)
        self._note_server(req, answer)
        return answer

    def _note_server(self, req: core.Request, answer: rp.Answer) -> None:
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

    def _reset_hold(self) -> Hold | None:
        from . import resets

        cfg = self.config
        minutes = resets.DEFAULT_HOLD_MINUTES if cfg.reset_hold_minutes is None else cfg.reset_hold_minutes
        if minutes <= 0:
            return None
        if self._resets is None or self._resets.timezone != cfg.reset_timezone:
            self._resets = resets.ResetSchedule(timezone=cfg.reset_timezone)
        seen = self.session_seen_at
        return self._resets.hold(self.server_time(), hold_minutes=minutes, session_back_at=seen)

    def _reset_guard_op(self) -> core.Op[None]:
        """Before an order or modification: hold it around IBKR's reset / maintenance windows
        (:class:`ResetWindowError`, nothing sent, nothing logged). Once a window is over, the
        start-up sequence is run again; if the session is back, the order goes out."""
        hold = self._reset_hold()
        if hold is not None and hold.over:
            try:
                yield from core.auth_status()  # the Date header and the session's state, fresh
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

    def _record(self, effect: core.JournalEffect) -> ModificationRef | JournalEntry | None:
        """Write one journal effect (blocking; a no-op without a journal). An exception propagates
        into the order flow, which then does not send the order or modification (the record comes
        first)."""
        journal = self.journal
        if journal is None:
            return None
        if isinstance(effect, core.RecordPending):
            journal.record_pending(effect.entry)
        elif isinstance(effect, core.RecordResult):
            said = effect.ibkr_status
            journal.record_result(
                effect.client_order_id,
                status=effect.status,
                order_id=effect.order_id,
                transcript=effect.transcript,
                message=effect.message,
                filled_quantity=effect.filled_quantity,
                avg_fill_price=effect.avg_fill_price,
                # Only when IBKR said one: a journal written before this argument still works.
                **({} if said is None else {"ibkr_status": status_info(said).ibkr}),
            )
        elif isinstance(effect, core.FindOrder):
            find = getattr(journal, "find_order", None)
            found = find(effect.order_id) if callable(find) else None
            return found if isinstance(found, JournalEntry) else None
        elif isinstance(effect, core.RecordOrderStatus):
            record = getattr(journal, "record_order_status", None)
            if callable(record):
                record(
                    effect.order_id,
                    effect.ibkr_status,
                    filled_quantity=effect.filled_quantity,
                    total_size=effect.total_size,
                    avg_fill_price=effect.avg_fill_price,
                )
        elif isinstance(effect, core.RecordModification):
            return journal.record_modification(effect.modification)
        else:
            journal.settle_modification(
                effect.ref,
                status=effect.status,
                transcript=effect.transcript,
                message=effect.message,
                ibkr_status=effect.ibkr_status,
            )
        return None

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
            from .oauth.session import OAuthAuth

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

    def _account_op(self, account_id: str | None) -> core.Op[str]:
        if account_id:
            return account_id
        yield from core.ensure_accounts(self.state)
        acct = self.account_id
        if not acct:
            raise GatewayError("the gateway reports no account; log in with a trading user")
        return acct

    def _order_context(
        self, order: Mapping[str, Any], account_id: str, confirm: Iterable[str] = ()
    ) -> orderflow.OrderContext:
        wanted = order.get("mode")
        if wanted is not None and wanted != self.mode:
            raise ModeError(
                f"the order is meant for mode {wanted!r} but this client is in mode {self.mode!r}"
            )
        if self.is_fallback and (self.config.account_id or order.get("account_id")):
            raise ModeError(
                f"the order names account {mask_account(account_id)}, which belongs to a real gateway, but "
                "auto mode fell back to the simulator; it is not sent"
            )
        if not is_paper_account(account_id) and not self.config.allow_live_trading:
            raise LiveTradingNotAllowedError(
                f"account {mask_account(account_id)} is a live (non-paper) account; set allow_live_trading "
                "to place orders on it"
            )
        return orderflow.OrderContext(
            account_id=account_id,
            mode=self.mode,
            auto_confirm=frozenset(self.config.auto_confirm),
            max_rounds=self.config.max_question_rounds,
            confirm=orderflow.confirm_ids(confirm),
            ignored_keys=check_order_keys(order),
            clock=lambda: self.clock(),
        )

    def translate_options(self, account_id: str | None = None) -> TranslateOptions:
        """The options this client translates orders with (``account_id``: default :attr:`account_id`)."""
        from .orders import TranslateOptions

        return TranslateOptions(
            account_id=account_id or self.account_id,
            allow_fractional=self.config.allow_fractional,
            futures_operator=self.config.futures_operator,
            manual_orders=self.config.manual_orders,
        )

    def _translate(
        self, order: Mapping[str, Any], contract: Mapping[str, Any], account_id: str
    ) -> dict[str, Any]:
        from .orders import new_client_order_id, translate_order

        order = dict(order)
        order.pop("mode", None)
        if not order.get("client_order_id"):
            order["client_order_id"] = new_client_order_id()
        payload = dict(translate_order(order, contract, self.translate_options(account_id)))
        if payload.get("cOID") != order["client_order_id"]:
            raise ConfigError("orders", "the translator did not carry client_order_id into cOID")
        return payload

    def _prepare(
        self, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str] = ()
    ) -> core.Op[tuple[orderflow.OrderContext, dict[str, Any], dict[str, Any]]]:
        """What every order operation starts with: the account, the mode / live-account checks and
        the translation -> (context, contract mapping, CPAPI payload). Raises before anything is sent."""
        account = yield from self._account_op(_text(order.get("account_id")))
        ctx = self._order_context(order, account, confirm)
        cdict = orderflow.contract_mapping(contract)
        cdict = yield from self._with_rules_op(order, cdict)
        return ctx, cdict, self._translate(order, cdict, account)

    def _with_rules_op(self, order: Mapping[str, Any], cdict: dict[str, Any]) -> core.Op[dict[str, Any]]:
        """The contract dict with IBKR's rules for the order's side: as resolved (the resolver
        fetches them with the contract), else fetched once per conid and side and kept here.
        When IBKR gives none, ``rules_source`` stays ``None`` and the static table decides."""
        if cdict.get("rules_source"):
            return cdict
        try:
            conid = int(cdict.get("conid") or 0)
        except (TypeError, ValueError):
            return cdict  # the translator names the bad conid
        side = order.get("side")
        if conid <= 0 or not isinstance(side, str):
            return cdict
        is_buy = side.strip().lower() in ("buy", "buy_to_cover")
        known = self._contract_rules.get((conid, is_buy))
        if known is None:
            from .core_secdef import rules_or_none
            from .models.contracts import RULE_KEYS

            exchange = cdict.get("exchange")
            venue = exchange if isinstance(exchange, str) and exchange not in ("", "SMART") else None
            rules = yield from rules_or_none(self.state, conid, is_buy=is_buy, exchange=venue)
            if rules is None:
                return cdict
            host = m.IBKRContract(conid=conid, sec_type="STK", symbol="-").with_rules(rules).to_host()
            known = {k: host[k] for k in RULE_KEYS}
            known["tick_size"] = host["tick_size"]
            self._contract_rules[(conid, is_buy)] = known
        out = dict(cdict)
        out.update({k: v for k, v in known.items() if k != "tick_size"})
        out["sell_increment_rules"] = []  # these are the order's own side's rules
        if out.get("tick_size") is None:
            out["tick_size"] = known["tick_size"]
        return out

    def _payload_op(self, order: Mapping[str, Any], contract: ContractLike) -> core.Op[dict[str, Any]]:
        """The CPAPI payload :meth:`place_order` would send for ``order`` (same account, contract
        rules and translation; nothing is sent): what a confirmation shows."""
        _ctx, _cdict, payload = yield from self._prepare(order, contract)
        return payload

    def _place_op(
        self,
        order: Mapping[str, Any],
        contract: ContractLike,
        confirm: Iterable[str] = (),
        hold: bool = False,
    ) -> core.Op[m.OrderResult]:
        yield from self._reset_guard_op()
        from .orders.groups import is_group

        if is_group(order):
            return (yield from self._place_group_op(order, contract, confirm, hold))
        ctx, cdict, payload = yield from self._prepare(order, contract, confirm)
        result, held = yield from orderflow.place_order_held(self.state, payload, cdict, ctx, hold=hold)
        self._keep(held)
        return _say_rules(result, cdict)

    def _place_group_op(
        self, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str], hold: bool
    ) -> core.Op[m.OrderResult]:
        """A bracket / OCO / OTO (:mod:`.orders.groups`): every leg validated, then one POST
        (:mod:`.groupflow`). Raises before anything is sent, as :meth:`_prepare`."""
        from .groupflow import place_group

        if hold:
            raise OrderValidationError(
                "hold_questions",
                "an order group's questions are answered at once under the question policy (confirm= / "
                "auto_confirm); held questions are for single orders. Nothing was sent",
            )
        ctx, cdict, group = yield from self._prepare_group(order, contract, confirm)
        result = yield from place_group(self.state, group, cdict, ctx)
        return _say_rules(result, cdict)

    def _prepare_group(
        self, order: Mapping[str, Any], contract: ContractLike, confirm: Iterable[str] = ()
    ) -> core.Op[tuple[orderflow.OrderContext, dict[str, Any], OrderGroup]]:
        """:meth:`_prepare` for a group -> (context, contract mapping, :class:`OrderGroup`)."""
        from .orders.groups import GROUP_KEYS, translate_group

        members = order.get("oco")
        head: Mapping[str, Any] = order
        if isinstance(members, Sequence) and members and isinstance(members[0], Mapping):
            head = members[0]  # an OCO's account, mode and contract rules are its first order's
        head = {k: v for k, v in head.items() if k not in GROUP_KEYS}
        if order.get("mode") is not None:
            head = {**head, "mode": order["mode"]}
        account = yield from self._account_op(_text(head.get("account_id")))
        ctx = self._order_context(head, account, confirm)
        cdict = orderflow.contract_mapping(contract)
        # The entry's side's rules (IBKR answers per side): exits use the same contract's grid, and
        # a resolved contract's ``sell_increment_rules`` when it carries them.
        cdict = yield from self._with_rules_op(head, cdict)
        plain = {k: v for k, v in order.items() if k != "mode"}
        if isinstance(members, Sequence) and not isinstance(members, str):
            plain["oco"] = [
                {k: v for k, v in leg.items() if k != "mode"} if isinstance(leg, Mapping) else leg
                for leg in members
            ]
        return ctx, cdict, translate_group(plain, cdict, self.translate_options(account))

    def _group_op(self, order: Mapping[str, Any], contract: ContractLike) -> core.Op[OrderGroup]:
        """The group :meth:`place_order` would send for a group dict (nothing is sent)."""
        _ctx, _cdict, group = yield from self._prepare_group(order, contract)
        return group

    def _modify_op(
        self,
        order_id: str | int,
        order: Mapping[str, Any],
        contract: ContractLike | None,
        confirm: Iterable[str] = (),
        hold: bool = False,
    ) -> core.Op[m.OrderResult]:
        named = _text(order.get("client_order_id"))  # the original order's cOID, if the caller knows it
        yield from self._reset_guard_op()
        if contract is None:
            contract = yield from self._order_contract_op(order_id, order)
        ctx, cdict, payload = yield from self._prepare(order, contract, confirm)
        result, held = yield from orderflow.modify_order_held(
            self.state, order_id, payload, ctx, contract=cdict, coid=named, hold=hold
        )
        self._keep(held)
        return _say_rules(result, cdict)

    def _keep(self, held: orderflow.HeldOrder | None) -> None:
        if held is not None:
            self._held[held.client_order_id or str(held.order_id)] = held

    def held_question(self, client_order_id: str) -> m.PendingQuestion | None:
        """The question held for order ``client_order_id`` (``hold_questions=True``), if any."""
        held = self._held.get(client_order_id)
        return None if held is None else held.question

    def _answer_op(self, client_order_id: str, yes: bool) -> core.Op[m.OrderResult]:
        """:meth:`answer_question`: the held order is taken first (a second answer finds nothing)."""
        from .orders import new_client_order_id

        if not isinstance(yes, bool):
            raise OrderValidationError("yes", f"expected True or False, got {yes!r}")
        held = self._held.pop(str(client_order_id), None)
        if held is None:
            raise OrderValidationError(
                "client_order_id",
                f"no IBKR question is held for order {client_order_id!r} (already answered, never asked, "
                "or asked in another process: the order log says what became of it)",
            )
        yield from core.ensure_accounts(self.state)
        result, again = yield from orderflow.answer(self.state, held, yes, new_coid=new_client_order_id)
        self._keep(again)
        return _say_rules(result, held.contract)

    def _order_contract_op(self, order_id: str | int, order: Mapping[str, Any]) -> core.Op[m.IBKRContract]:
        """The contract of a live order from its own terms: the order's conid (the order dict's
        ``conid``, else IBKR's status of ``order_id``), then IBKR's definition of that conid
        (strike, right, expiry, multiplier: never the page's or the caller's guess)."""
        from .core_secdef import order_contract

        raw = order.get("conid")
        if raw is None:
            status = yield from core.order_status(self.state, order_id)
            raw = status.conid
        try:
            conid = int(raw) if raw is not None and not isinstance(raw, bool) else 0
        except (TypeError, ValueError):
            conid = 0
        if conid <= 0:
            raise OrderValidationError("conid", f"the conid of order {order_id} is unknown ({raw!r})")
        contract = yield from order_contract(self.state, conid)
        if contract.sec_type == "BOND":
            # IBKR's definition names a bond by its ticker (``T``); the plugin resolved and logged
            # it by the description form (``US-T 4.25 11/15/34``). The order's own logged symbol
            # is the one the caller was shown, so the order's contract answers to it.
            logged = yield core.FindOrder(order_id=str(order_id))
            if isinstance(logged, JournalEntry) and logged.conid == conid and logged.symbol:
                contract = attrs.evolve(contract, local_symbol=logged.symbol)
            else:  # not in this log: the description form of IBKR's own name (``T 4.25 11/15/34``)
                from .contracts import _bond_description

                found = re.search(r"(\d+(?:\.\d+)?)\s+\d\d/\d\d/\d\d\s*$", contract.description or "")
                coupon = float(found.group(1)) if found else None
                named = _bond_description(contract.symbol, coupon, contract.maturity) if found else None
                if named:
                    contract = attrs.evolve(contract, local_symbol=named, coupon=contract.coupon or coupon)
        return contract

    def _whatif_op(self, order: Mapping[str, Any], contract: ContractLike) -> core.Op[m.WhatIf]:
        ctx, _, payload = yield from self._prepare(order, contract)
        return (yield from orderflow.whatif(self.state, payload, ctx))

    def _cancel_op(
        self, order_id: str | int, account_id: str | None, sec_type: str | None
    ) -> core.Op[m.CancelAck]:
        """Cancel order ``order_id``. Without ``sec_type`` the order's own is used (its order-log
        row, else IBKR's status of it) so a futures cancel carries ``manualIndicator`` and
        ``extOperator``. After IBKR's acknowledgement the order's status is read once and written to
        the order log (``Cancelled`` -> the vocabulary's cancelled log status); a status IBKR has not
        settled yet (``PendingCancel``) is left to the stream and start-up reconciliation."""
        account = yield from self._account_op(account_id)
        oid = str(order_id).strip()
        if sec_type is None:
            logged = yield core.FindOrder(order_id=oid)
            if isinstance(logged, JournalEntry) and logged.sec_type:
                sec_type = logged.sec_type
        if sec_type is None:
            status = yield from self._status_or_none(oid)
            sec_type = None if status is None else status.sec_type
        futures = sec_type is not None and sec_type.upper() in ("FUT", "FOP")
        ack = yield from core.cancel_order(
            self.state,
            account,
            order_id,
            futures_operator=self.config.futures_operator if futures else None,
            manual_indicator=self.config.manual_orders,
        )
        if self.journal is not None:
            # IBKR acknowledges first (PendingCancel) and confirms shortly after: a few spaced reads.
            after = yield from self._status_or_none(oid)
            for _ in range(CANCEL_CONFIRM_READS - 1):
                if after is None or not status_info(after.order_status).live:
                    break
                yield core.Sleep(CANCEL_CONFIRM_WAIT_S)
                after = (yield from self._status_or_none(oid)) or after
            if after is not None and after.order_status:
                yield core.RecordOrderStatus(
                    order_id=oid,
                    ibkr_status=after.order_status,
                    filled_quantity=after.cum_fill,
                    total_size=after.total_size,
                    avg_fill_price=after.average_price,
                )
        return ack

    def _status_or_none(self, order_id: str) -> core.Op[m.OrderStatus | None]:
        """IBKR's status of an order, ``None`` when it cannot be read (logged; nothing depends on it
        but the futures fields of a cancel and the order log, which the stream also keeps)."""
        try:
            return (yield from core.order_status(self.state, order_id))
        except (GatewayError, OrderRejectedError) as exc:
            log.info("status of order %s could not be read: %s", order_id, mask_text(str(exc)))
            return None

    def _session_op(self, *, tickle_after: bool = False) -> core.Op[core.StartupResult]:
        """IBKR's start-up sequence; while it runs, its own account reads never re-authenticate
        (it waits out "no bridge" itself)."""
        self._rebuilding_session = True
        try:
            return (
                yield from core.open_session(
                    self.state,
                    take_over=takes_over_competing(self.config),
                    # Session-wide suppression only when configured as such; auto_confirm answers per order.
                    suppress=self.config.suppress_questions,
                    tickle_after=tickle_after,
                )
            )
        finally:
            self._rebuilding_session = False

    def _with_account(self, account_id: str | None, make: Callable[[str], core.Op[T]]) -> core.Op[T]:
        account = yield from self._account_op(account_id)
        return (yield from make(account))


#: Status reads after a cancel's acknowledgement, and the wait between them: IBKR answers
#: ``PendingCancel`` first and ``Cancelled`` once the venue confirms (the stream, and start-up
#: reconciliation from the live orders, settle the row when the confirmation comes later).
CANCEL_CONFIRM_READS = 4
CANCEL_CONFIRM_WAIT_S = 0.5

#: What an order result says when the contract's own rules could not be had.
STATIC_RULES_NOTE = (
    "IBKR gave no contract rules for conid {conid}: checked against the plugin's static order "
    "rules only (no tick grid unless the contract carries tick_size)"
)


def _say_rules(result: m.OrderResult, cdict: Mapping[str, Any]) -> m.OrderResult:
    """The result, saying in ``message`` when the static rules stood in for the contract's own."""
    if cdict.get("rules_source"):
        return result
    note = STATIC_RULES_NOTE.format(conid=cdict.get("conid"))
    return attrs.evolve(result, message=f"{result.message}; {note}" if result.message else note)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
