"""Socket-level behaviour of the simulator: Nagle off on every connection, prompt clean stops."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.sim.api.server import listening_socket

from .conftest import AAPL, ACCT, client_for

STALLED_ORDER = {"conid": AAPL, "side": "BUY", "orderType": "LMT", "price": 1.0, "quantity": 1}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def uvicorn_log() -> Iterator[list[str]]:
    """Messages uvicorn logs. Its loggers do not propagate to the root (caplog misses them) and
    its ``Config`` re-applies its logging setup, so enter this after the simulator started."""
    handler = _Records()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_listening_socket_is_tcp_with_nagle_off(host: str) -> None:
    try:
        sock = listening_socket(host)
    except OSError:
        pytest.skip(f"no socket family for {host}")
    with sock:
        # asyncio only turns Nagle off on accepted sockets whose proto says TCP.
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_every_accepted_connection_has_nagle_off(fsim: SimServer) -> None:
    server = fsim._server
    assert server is not None
    with client_for(fsim) as first, client_for(fsim) as second:
        assert first.post("/tickle", json={}).status_code == 200
        assert second.get("/iserver/accounts").status_code == 200
        connections = list(server.server_state.connections)
        assert len(connections) == 2
        for connection in connections:
            sock: Any = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_stop_releases_a_stalled_order_and_idle_connections() -> None:
    sim = SimServer(port=0, seed=5, rate_scale=1000.0).start()
    answers: list[httpx.Response | BaseException] = []
    with uvicorn_log() as logged, client_for(sim, timeout=60.0) as patient, client_for(sim) as idle:
        assert idle.get("/iserver/accounts").status_code == 200  # stays pooled, keep-alive
        patient.get("/iserver/accounts")
        patient.post("/iserver/questions/suppress", json={"messageIds": ["o163", "o354", "o10151"]})
        sim.admin.timeout_next_order()

        def send() -> None:
            try:
                order = {**STALLED_ORDER, "cOID": "stalled-stop"}
                answers.append(patient.post(f"/iserver/account/{ACCT}/orders", json={"orders": [order]}))
            except httpx.HTTPError as exc:
                answers.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            for _ in range(1000):  # wait until the order is in the book, its answer held back
                if [o for o in sim.admin.state()["orders"] if o["order_ref"] == "stalled-stop"]:
                    break
                time.sleep(0.01)
            else:
                raise AssertionError("the stalled order never reached the book")
            assert not answers
        finally:
            sim.stop()
            sender.join(timeout=30)
        assert not sim.running
    # The stall ended because the server stopped (the client would have waited 60 s) ...
    assert len(answers) == 1 and isinstance(answers[0], httpx.Response), answers
    assert answers[0].status_code == 200 and "order_id" in answers[0].json()[0]
    # ... and uvicorn neither waited out its graceful-shutdown timeout nor cancelled anything.
    assert not [m for m in logged if "graceful shutdown exceeded" in m], logged
