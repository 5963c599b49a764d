"""``SimServer(oauth=True)`` as IBKR's OAuth 1.0a server: what it accepts and IBKR's refusals."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from axion_broker_ibkr.oauth import make_timestamp, sign_request
from axion_broker_ibkr.oauth.auth import OAuthSession
from axion_broker_ibkr.oauth.credentials import load_credentials_file
from axion_broker_ibkr.sim import SimServer

from .conftest import trust
from .test_cli import free_port


@pytest.fixture
def osim() -> Iterator[SimServer]:
    with SimServer(port=0, oauth=True, oauth_token_lifetime=3600, rate_scale=1000.0, idle_timeout=1e6) as sim:
        yield sim


def _session(sim: SimServer, http: httpx.Client) -> OAuthSession:
    assert sim.oauth_credentials is not None
    session = OAuthSession(load_credentials_file(sim.oauth_credentials), sim.base_url)
    request, a = session.token_request()
    answer = http.send(request)
    session.accept_token(answer, a)
    return session


def _header(sim: SimServer, session: OAuthSession, path: str, method: str = "GET", **kw: Any) -> str:
    c = session.credentials
    values: dict[str, Any] = {
        "consumer_key": c.consumer_key,
        "access_token": c.access_token,
        "lst_b64": session._token,
        "realm": c.realm,
        "timestamp": str(int(session.server_now())),
    }
    values.update(kw)
    return sign_request(method, sim.base_url + path, **values)


def _reason(answer: httpx.Response) -> str:
    body = answer.json()
    assert answer.status_code == 401 and body["statusCode"] == 401
    assert body["error"].startswith("id: ")  # IBKR's form: "id: 39687, error: invalid consumer"
    return str(body["error"].split("error: ", 1)[1])


def test_live_session_token_answer_and_signed_requests(osim: SimServer) -> None:
    with httpx.Client(base_url=osim.base_url, verify=trust(osim)) as http:
        session = _session(osim, http)
        assert session.expires_at is not None
        assert abs(session.expires_at - (osim.state.clock.now() + 3600)) < 5  # ms on the sim's clock
        ok = http.get(
            "/iserver/accounts", headers={"Authorization": _header(osim, session, "/iserver/accounts")}
        )
        assert ok.status_code == 200 and ok.json()["accounts"]
        # query parameters in the signed set (IBKR's documentation) ...
        path = "/iserver/marketdata/snapshot"
        query = {"conids": "265598", "fields": "31,84"}
        signed = _header(osim, session, path, query=query)
        assert http.get(path, params=query, headers={"Authorization": signed}).status_code == 200
        # ... or without them (ibind 0.2.2): both readings are accepted
        assert (
            http.get(path, params=query, headers={"Authorization": _header(osim, session, path)}).status_code
            == 200
        )


def test_ibkrs_refusals(osim: SimServer) -> None:
    with httpx.Client(base_url=osim.base_url, verify=trust(osim)) as http:
        session = _session(osim, http)
        path = "/iserver/accounts"
        assert _reason(http.get(path)) == "missing Authorization header"
        good = _header(osim, session, path)
        tampered = good.replace('oauth_signature="', 'oauth_signature="A')
        assert _reason(http.get(path, headers={"Authorization": tampered})) == "invalid signature"
        assert http.get(path, headers={"Authorization": good}).status_code == 200
        assert _reason(http.get(path, headers={"Authorization": good})) == "nonce already used"
        old = _header(osim, session, path, timestamp=make_timestamp(osim.state.clock.now() - 3600))
        assert _reason(http.get(path, headers={"Authorization": old})) == "invalid timestamp"
        wrong = _header(osim, session, path, consumer_key="WRONGKEYX")
        assert _reason(http.get(path, headers={"Authorization": wrong})) == "invalid consumer"
        # the token request itself: signed RSA-SHA256 with the prepend, else refused
        request, _a = session.token_request()
        request.headers["Authorization"] = request.headers["Authorization"].replace(
            'oauth_signature="', 'oauth_signature="A'
        )
        assert _reason(http.send(request)) == "invalid signature"
        osim.admin.advance_clock(3601)  # the token expires on the simulator's clock
        late = _header(osim, session, path, timestamp=make_timestamp(osim.state.clock.now()))
        assert _reason(http.get(path, headers={"Authorization": late})) == "token expired"


def _tickle_cookie(osim: SimServer) -> tuple[OAuthSession, str]:
    with httpx.Client(base_url=osim.base_url, verify=trust(osim)) as http:
        session = _session(osim, http)
        tickle = http.post(
            "/tickle", json={}, headers={"Authorization": _header(osim, session, "/tickle", "POST")}
        )
        return session, "api=" + json.dumps({"session": tickle.json()["session"]}, separators=(",", ":"))


async def test_websocket_needs_the_oauth_token_and_the_api_cookie(osim: SimServer) -> None:
    session, cookie = await asyncio.to_thread(_tickle_cookie, osim)
    token = session.credentials.access_token
    url = f"{osim.ws_url}?oauth_token={token}"
    async with websockets.connect(url, ssl=trust(osim), additional_headers={"Cookie": cookie}) as ws:
        first = json.loads(await ws.recv())
        assert first.get("topic") == "system"
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(osim.ws_url, ssl=trust(osim), additional_headers={"Cookie": cookie}):
            pass
    async with websockets.connect(url, ssl=trust(osim)) as ws:  # no cookie, no session frame
        assert json.loads(await ws.recv()) == {"message": "waiting for session"}
        await ws.send("sor+{}")
        assert json.loads(await ws.recv()) == {"error": "invalid session"}


def test_cli_sim_oauth_writes_the_credential_set(tmp_path: Path) -> None:
    port = free_port()
    target = tmp_path / "creds"
    proc = subprocess.Popen(
        [sys.executable, "-m", "axion_broker_ibkr.cli", "sim", "--port", str(port), "--oauth", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        answer = None
        with httpx.Client(verify=False) as client:
            while answer is None:
                try:
                    answer = client.post(
                        f"https://127.0.0.1:{port}/v1/api/iserver/auth/status", content=b"{}"
                    )
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                    assert time.monotonic() < deadline, "the simulator did not come up"
                    time.sleep(0.1)
        assert answer.status_code == 401  # unsigned: refused
        creds = load_credentials_file(target / "oauth.json")  # complete, private, loadable
        assert len(creds.consumer_key) == 9
        assert oct(os.stat(target / "private_signature.pem").st_mode & 0o777) == "0o600"
        ca = ssl.create_default_context(cafile=str(target / "ca.pem"))  # ca.pem verifies the simulator
        with httpx.Client(verify=ca) as client:
            session = OAuthSession(creds, f"https://127.0.0.1:{port}/v1/api")
            request, a = session.token_request()
            session.accept_token(client.send(request), a)
        assert session.has_token
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "OAuth 1.0a: credentials" in output
