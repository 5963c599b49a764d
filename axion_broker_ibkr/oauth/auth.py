"""OAuth 1.0a as an httpx authentication step: the live session token, kept fresh, signs every request.

:class:`OAuthAuth` plugs into the same ``httpx.Client`` / ``httpx.AsyncClient`` the gateway mode
uses, so every request still goes through the client's one request path (pacing, retries, question
policy, write-ahead log, reconciliation); only the ``Authorization`` header is added here.

* Before a request, when there is no token or the token expires within :data:`REFRESH_MARGIN_S`
  on the server's clock, a new one is obtained (``POST /oauth/live_session_token``) and validated.
* The server's clock is read from each answer's ``Date`` header: the token's expiration is the
  server's (epoch ms), so the client's own clock being off does not matter.
* An answer 401 whose body names the token or the signature gets one new token and one resend (a
  401 is a refusal before anything was done, so even an order is safe to resend: same cOID).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Generator
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl

import httpx

from ..errors import ConfigError, OAuthError
from ..masking import register_secret
from . import (
    decrypt_prepend,
    dh_challenge,
    live_session_token,
    live_session_token_request_header,
    sign_request,
    validate_live_session_token,
)
from .credentials import OAuthCredentials

log = logging.getLogger("axion_broker_ibkr.oauth")
#: Obtain a new live session token this long before the current one expires (server clock).
REFRESH_MARGIN_S = 600.0
LST_PATH = "/oauth/live_session_token"
#: 401 bodies that a new live session token can heal (IBKR words them ``error: <reason>``).
_TOKEN_PROBLEMS = ("token", "signature", "expired", "unauthorized")


class OAuthSession:
    """The live session token of one set of credentials (thread-safe, no I/O of its own)."""

    def __init__(self, credentials: OAuthCredentials, base_url: str, *, sign_query: bool = False) -> None:
        """``sign_query``: put the query parameters into the signed set. OAuth 1.0a says so; ibind
        0.2.2, which works against api.ibkr.com, signs the URL without them. Whether IBKR accepts
        the first reading is [unconfirmed], so the default is the reading known to work; the
        simulator accepts both."""
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.sign_query = sign_query
        try:
            self._prepend = decrypt_prepend(credentials.encryption_key, credentials.access_token_secret)
        except ValueError as exc:
            raise ConfigError(
                "oauth_encryption_key_file",
                "this private encryption key cannot decrypt the access token secret: the key or the "
                "secret is not the pair registered with IBKR",
            ) from exc
        register_secret(self._prepend)
        register_secret(credentials.access_token_secret)
        register_secret(credentials.access_token)
        self._token: str | None = None
        #: epoch seconds on the server's clock
        self.expires_at: float | None = None
        #: server clock minus this machine's clock (from the ``Date`` headers)
        self.clock_offset = 0.0
        self.refreshes = 0
        self.tokens_obtained = 0
        self._lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None

    # -- clock ---------------------------------------------------------------------------------

    def server_now(self) -> float:
        return time.time() + self.clock_offset

    def observe(self, response: httpx.Response) -> None:
        """Track the server's clock from ``Date`` (one-second resolution is plenty for a 24 h token)."""
        date = response.headers.get("date")
        if not date:
            return
        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        self.clock_offset = server - time.time()

    def needs_token(self) -> bool:
        if self._token is None or self.expires_at is None:
            return True
        return self.server_now() + REFRESH_MARGIN_S >= self.expires_at

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def invalidate(self) -> None:
        self._token = None

    # -- the live session token ----------------------------------------------------------------

    def token_request(self) -> tuple[httpx.Request, int]:
        """``POST /oauth/live_session_token`` and the Diffie-Hellman secret ``a`` it needs."""
        c = self.credentials
        a, challenge = dh_challenge(c.dh_prime, c.dh_generator)
        url = self.base_url + LST_PATH
        header = live_session_token_request_header(
            url,
            consumer_key=c.consumer_key,
            access_token=c.access_token,
            realm=c.realm,
            challenge_hex=challenge,
            prepend=self._prepend,
            signature_key=c.signature_key,
            timestamp=str(int(self.server_now())),
        )
        return httpx.Request("POST", url, headers={"Authorization": header, "Content-Length": "0"}), a

    def accept_token(self, response: httpx.Response, a: int) -> None:
        """Compute and validate the token from IBKR's answer; raise :class:`OAuthError` otherwise."""
        self.observe(response)
        if response.status_code != 200:
            raise OAuthError(
                f"IBKR refused the live session token request (HTTP {response.status_code}): "
                f"{_error_text(response)}; check the consumer key, access token and keys in the OAuth "
                "credentials (a new consumer is active only from the next day)",
                status=response.status_code,
            )
        try:
            body = response.json()
            dh_response = str(body["diffie_hellman_response"])
            signature = str(body["live_session_token_signature"])
            expiration_ms = float(body["live_session_token_expiration"])
        except (ValueError, KeyError, TypeError) as exc:
            raise OAuthError(f"unexpected live session token answer: {type(exc).__name__}") from exc
        token = live_session_token(dh_response, a, self.credentials.dh_prime, self._prepend)
        if not validate_live_session_token(token, signature, self.credentials.consumer_key):
            raise OAuthError(
                "the live session token IBKR sent does not validate against the consumer key; the access "
                "token secret or the encryption key does not belong to this consumer"
            )
        register_secret(token)
        first = self._token is None and self.tokens_obtained == 0
        self._token = token
        self.expires_at = expiration_ms / 1000.0
        self.tokens_obtained += 1
        if not first:
            self.refreshes += 1
        log.info(
            "OAuth live session token %s; expires in %.0f s (server clock)",
            "obtained" if first else "refreshed",
            self.expires_at - self.server_now(),
        )

    def sign(self, request: httpx.Request) -> None:
        if self._token is None:
            raise OAuthError("no live session token")
        c = self.credentials
        url = str(request.url.copy_with(query=None, fragment=None))
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True)) if self.sign_query else {}
        request.headers["Authorization"] = sign_request(
            request.method,
            url,
            consumer_key=c.consumer_key,
            access_token=c.access_token,
            lst_b64=self._token,
            realm=c.realm,
            query=query,
            timestamp=str(int(self.server_now())),
        )


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return json.dumps(body)[:200]


def _token_problem(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    text = _error_text(response).lower()
    return "consumer" not in text and any(w in text for w in _TOKEN_PROBLEMS)


_HEALS = {"timestamp": "IBKR's clock read from its answer", "token": "a new live session token"}


def _problem(response: httpx.Response, healed: set[str]) -> str | None:
    """What a 401 asks for that has not been tried yet: ``timestamp`` (sign again with IBKR's clock)
    or ``token`` (a new live session token); ``None``: pass the answer on."""
    if _timestamp_problem(response) and "timestamp" not in healed:
        return "timestamp"
    if _token_problem(response) and "token" not in healed:
        return "token"
    return None


def _heal(s: OAuthSession, response: httpx.Response, healed: set[str]) -> str | None:
    """After an answer (read): what to heal before the resend (:func:`_problem`, then kept in
    ``healed`` and logged), ``None`` to pass the answer on."""
    s.observe(response)
    problem = _problem(response, healed)
    if problem is not None:
        healed.add(problem)
        log.warning("OAuth: %s -> %s, then a resend", _error_text(response), _HEALS[problem])
    return problem


def _timestamp_problem(response: httpx.Response) -> bool:
    return response.status_code == 401 and "timestamp" in _error_text(response).lower()


class OAuthAuth(httpx.Auth):
    """httpx authentication step for OAuth 1.0a (sync and async clients alike)."""

    def __init__(self, session: OAuthSession) -> None:
        self.session = session

    # The two flows are the same loop; each reads the answers itself (an overridden flow does not
    # get httpx's ``requires_response_body`` reading) and guards the token with its own kind of lock.
    # A 401 "invalid timestamp" means this machine's idea of IBKR's clock was off: the answer's
    # Date corrects it and the request is signed again; a 401 about the token gets a new token.
    # Each of the two is tried once per request.

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        s = self.session
        healed: set[str] = set()
        force = False
        while True:
            if force or s.needs_token():
                with s._lock:
                    if force or s.needs_token():  # another thread may have refreshed meanwhile
                        steps = _token_steps(s)
                        step: httpx.Request | None = next(steps)
                        while step is not None:
                            answer = yield step
                            answer.read()
                            step = _advance(steps, answer)
            s.sign(request)
            response = yield request
            response.read()
            heal = _heal(s, response, healed)
            if heal is None:
                return
            force = heal == "token"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        s = self.session
        if s._async_lock is None:
            s._async_lock = asyncio.Lock()
        healed: set[str] = set()
        force = False
        while True:
            if force or s.needs_token():
                async with s._async_lock:
                    if force or s.needs_token():  # another task may have refreshed meanwhile
                        steps = _token_steps(s)
                        step: httpx.Request | None = next(steps)
                        while step is not None:
                            answer = yield step
                            await answer.aread()
                            step = _advance(steps, answer)
            s.sign(request)
            response = yield request
            await response.aread()
            heal = _heal(s, response, healed)
            if heal is None:
                return
            force = heal == "token"


def _token_steps(s: OAuthSession) -> Generator[httpx.Request, httpx.Response, None]:
    """The live session token requests (answers sent in already read): one, and a second after a
    401 "invalid timestamp" has corrected the clock."""
    for attempt in (1, 2):
        token_req, a = s.token_request()
        answer = yield token_req
        if attempt == 1 and _timestamp_problem(answer):
            s.observe(answer)
            continue
        s.accept_token(answer, a)
        return


def _advance(
    steps: Generator[httpx.Request, httpx.Response, None], answer: httpx.Response
) -> httpx.Request | None:
    try:
        return steps.send(answer)
    except StopIteration:
        return None


def oauth_ws_url(ws_url: str, access_token: str) -> str:
    """``wss://api.ibkr.com/v1/api/ws?oauth_token=<access token>`` (REFERENCE §6.1)."""
    return f"{ws_url}?oauth_token={access_token}"
