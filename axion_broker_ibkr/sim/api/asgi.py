"""The Starlette application: ``/v1/api`` routes, the WebSocket, ``/sim`` admin, the market ticker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from email.utils import formatdate

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from ...errors import OAuthRefused
from ..engine.clock import SimClock
from . import routes_contracts, routes_marketdata, routes_orders, routes_portfolio, routes_session
from .admin import admin_routes
from .http import API_PREFIX, Api, not_found, routes, signed_urls
from .oauth import LST_PATH, refusal_body
from .state import SimState
from .ws import websocket_endpoint

log = logging.getLogger(__name__)
#: Real seconds between market ticks (the walk advances by the elapsed simulated time).
TICK_INTERVAL_S = 0.25


async def _ticker(api: Api) -> None:
    loop = asyncio.get_running_loop()
    last = loop.time()
    while not api.stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(api.stopping.wait(), TICK_INTERVAL_S)
        now = loop.time()
        try:
            api.state.tick(now - last)
        except Exception:
            log.exception("simulator market tick failed")
        last = now


def build_app(state: SimState, heartbeat_interval: float = 10.0) -> tuple[Starlette, Api]:
    api = Api(state)
    endpoints = (
        routes_session.ENDPOINTS
        + routes_portfolio.ENDPOINTS
        + routes_contracts.ENDPOINTS
        + routes_orders.ENDPOINTS
        + routes_marketdata.ENDPOINTS
    )

    async def ws(websocket: WebSocket) -> None:
        await websocket_endpoint(api, websocket, heartbeat_interval)

    async def root(request: Request) -> Response:
        return PlainTextResponse("axion-broker-ibkr Client Portal Gateway simulator: Client login succeeds\n")

    async def live_session_token(request: Request) -> Response:
        oauth = api.state.oauth
        if oauth is None:
            return JSONResponse({"error": "OAuth is not served by this simulator"}, status_code=404)
        try:
            answer = oauth.live_session_token(
                request.method, signed_urls(request), request.headers.get("authorization"), request.url.query
            )
        except OAuthRefused as refused:
            return JSONResponse(refusal_body(refused), status_code=refused.status)
        return JSONResponse(answer)

    all_routes: list[BaseRoute] = [
        WebSocketRoute(API_PREFIX + "/ws", ws),
        Route(API_PREFIX + LST_PATH, live_session_token, methods=["POST"]),
        *routes(api, endpoints),
        *admin_routes(api),
        Route("/", root, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        api.loop = asyncio.get_running_loop()
        task = asyncio.create_task(_ticker(api))
        try:
            yield
        finally:
            api.stopping.set()
            for conn in list(api.connections):
                conn.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def unknown_route(request: Request, exc: Exception) -> Response:
        return not_found()  # a real gateway's answer for a path it does not serve (sim/api/http.py)

    app = Starlette(
        routes=all_routes,
        lifespan=lifespan,
        middleware=[Middleware(MarkSimulator, clock=state.clock)],
        exception_handlers={404: unknown_route},
    )
    return app, api


SIMULATOR_HEADER = (b"x-axion-simulator", b"axion-broker-ibkr")


class MarkSimulator:
    """Adds ``X-Axion-Simulator`` to every HTTP answer, so a client can tell it is not talking to a
    real gateway (the real one never sends it) and refuse to send a live order here; and the
    ``Date`` header from the simulator's clock (as a server's own clock, which an OAuth client reads
    to judge when its live session token expires; uvicorn's own Date header is switched off)."""

    def __init__(self, app: ASGIApp, clock: SimClock | None = None) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [SIMULATOR_HEADER]
                if self.clock is not None:
                    extra.append((b"date", formatdate(self.clock.now(), usegmt=True).encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, marked)
