"""The Starlette application: ``/v1/api`` routes, the WebSocket, ``/sim`` admin, the market ticker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from . import routes_contracts, routes_marketdata, routes_orders, routes_portfolio, routes_session
from .admin import admin_routes
from .http import API_PREFIX, Api, not_found, routes
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

    all_routes: list[BaseRoute] = [
        WebSocketRoute(API_PREFIX + "/ws", ws),
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
        return not_found()  # a real gateway's answer for a path it does not serve (sim/http.py)

    app = Starlette(
        routes=all_routes,
        lifespan=lifespan,
        middleware=[Middleware(MarkSimulator)],
        exception_handlers={404: unknown_route},
    )
    return app, api


SIMULATOR_HEADER = (b"x-axion-simulator", b"axion-broker-ibkr")


class MarkSimulator:
    """Adds ``X-Axion-Simulator`` to every HTTP answer, so a client can tell it is not talking to a
    real gateway (the real one never sends it) and refuse to send a live order here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), SIMULATOR_HEADER]}
            await send(message)

        await self.app(scope, receive, marked)
