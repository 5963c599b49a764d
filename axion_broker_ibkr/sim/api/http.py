"""The request pipeline every ``/v1/api`` route goes through, in the gateway's order.

411 for a POST without Content-Length, injected latency and failures, pacing (429), the SSO
session (401, empty body), the brokerage session (400 ``no bridge``), then the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ...errors import OAuthRefused
from .oauth import refusal_body
from .state import SimState

API_PREFIX = "/v1/api"
#: Legacy prefix the gateway also answers (IBeam uses /v1/portal/...).
LEGACY_PREFIX = "/v1/portal"
NO_BRIDGE = {"error": "Bad Request: no bridge", "statusCode": 400}


class Api:
    """What handlers share: the state and the server's stop signal."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.stopping = asyncio.Event()
        self.connections: set[Any] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def begin_stop(self) -> None:
        """Release stalled answers and close sockets (thread-safe; called before uvicorn stops)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return

        def stop() -> None:
            self.stopping.set()
            for conn in list(self.connections):
                conn.close()

        loop.call_soon_threadsafe(stop)


Handler = Callable[[Api, Request, Any], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    methods: tuple[str, ...]
    path: str
    handler: Handler
    layer: str = "iserver"  # "iserver" (brokerage session), "sso" (read-only session)
    needs_accounts: bool = False  # /iserver/accounts must have been called in this brokerage session
    needs_portfolio: bool = False  # /portfolio/accounts must have been called first


#: What a real gateway answers for a path it does not serve: 404, ``text/html``, this body (a capture
#: in areed1192/interactive-broker-python-api issue #29: ``/v1/portal/fundamentals/landing/...`` ->
#: ``Content-Type: text/html;charset=utf-8``, ``<html><body><h1>Resource not found</h1></body></html>``).
NOT_FOUND_HTML = "<html><body><h1>Resource not found</h1></body></html>"


def not_found() -> Response:
    return HTMLResponse(NOT_FOUND_HTML, status_code=404)


def reply(body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status)


def error(message: str, status: int = 400, with_code: bool = False) -> Response:
    body: dict[str, Any] = {"error": message}
    if with_code:
        body["statusCode"] = status
    return JSONResponse(body, status_code=status)


async def read_body(request: Request) -> tuple[Any, Response | None]:
    raw = await request.body()
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except ValueError:
        return None, error("Bad Request: body is not valid JSON", 400)


def signed_urls(request: Request) -> list[str]:
    """The URLs (without query) a client may have signed: as addressed in ``Host``, and as the
    socket it reached (ibind sends ``Host: api.ibkr.com`` whatever its base URL is)."""
    path = request.url.path
    urls: list[str] = []
    host = request.headers.get("host")
    if host:
        urls.append(f"https://{host}{path}")
    server = request.scope.get("server")
    if server:
        name, port = server[0], server[1]
        name = f"[{name}]" if ":" in str(name) else str(name)
        urls.append(f"https://{name}:{port}{path}")
        if is_loopback_name(str(server[0])):
            urls.append(f"https://localhost:{port}{path}")
    return list(dict.fromkeys(urls))


def is_loopback_name(host: str) -> bool:
    return host in {"127.0.0.1", "::1", "localhost"}


def _missing_length(request: Request) -> bool:
    headers = request.headers
    return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower()


def wrap(api: Api, ep: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state = api.state
        rel = request.url.path
        for prefix in (API_PREFIX, LEGACY_PREFIX):
            if rel.startswith(prefix):
                rel = rel[len(prefix) :]
                break
        if request.method in {"POST", "PUT"} and _missing_length(request):
            return Response(status_code=411)  # REFERENCE §0: a POST must carry a body / Content-Length
        if state.oauth is not None:
            # api.ibkr.com: nothing is answered without a valid OAuth signature (sim/api/oauth.py).
            try:
                state.oauth.check(
                    request.method,
                    signed_urls(request),
                    request.headers.get("authorization"),
                    request.url.query,
                )
            except OAuthRefused as refused:
                return JSONResponse(refusal_body(refused), status_code=refused.status)
        if state.faults.latency_ms:
            with contextlib.suppress(TimeoutError):  # a stopping server does not wait out the latency
                await asyncio.wait_for(api.stopping.wait(), state.faults.latency_ms / 1000)
        f = state.faults
        if f.fail_count > 0 and (not f.fail_prefix or rel.startswith(f.fail_prefix)):
            f.fail_count -= 1
            status = f.fail_status
            message = "Too many requests" if status == 429 else "Service Unavailable (simulated fault)"
            return error(message, status, with_code=status != 429)
        too_many = state.pacer.check(request.method, rel)
        if too_many:
            return error(too_many, 429)
        if not state.session.sso:
            # REFERENCE §1.6/§8: 401 with an empty body (areed1192/interactive-broker-python-api #16:
            # "nothing in the response body"), on every path.
            return Response(status_code=401)
        state.touch()
        if ep.layer == "iserver" and not state.session.authenticated:
            # [unconfirmed] REFERENCE §10: the exact answer while a competing session holds the
            # brokerage session is undocumented; the simulator answers like a missing bridge.
            return error("Bad Request: no bridge", 400, with_code=True)
        if ep.needs_accounts and not state.session.accounts_called:
            return error("Please query /accounts first", 400)
        if ep.needs_portfolio and not state.session.portfolio_accounts_called:
            return error("Please query /portfolio/accounts first", 400)
        body: Any = None
        if request.method in {"POST", "PUT"}:
            body, bad = await read_body(request)
            if bad is not None:
                return bad
        return await ep.handler(api, request, body)

    return endpoint


def routes(api: Api, endpoints: list[Endpoint]) -> list[Route]:
    out: list[Route] = []
    for ep in endpoints:
        handler = wrap(api, ep)
        for prefix in (API_PREFIX, LEGACY_PREFIX):
            out.append(Route(prefix + ep.path, handler, methods=list(ep.methods)))
    return out


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes"}


def body_dict(body: Any) -> dict[str, Any]:
    return body if isinstance(body, dict) else {}
