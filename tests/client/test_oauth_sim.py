"""``mode="oauth"``: both clients against ``SimServer(oauth=True)`` (the simulator as api.ibkr.com).

The same request path as the gateway mode (pacing, question policy, write-ahead log), with every
request signed with a live session token that is obtained, validated and refreshed: before it
expires (the simulator's clock is advanced) and after a 401.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.errors import ConfigError, OAuthError, QuestionRefusedError
from axion_broker_ibkr.gateway import AsyncIBKRGateway, IBKRGateway
from axion_broker_ibkr.oauth.auth import REFRESH_MARGIN_S
from axion_broker_ibkr.sim import SimServer
from axion_broker_ibkr.store.memory import MemoryJournal
from tests.client.conftest import SIM_SCALE, call, no_wait_retry

AAPL = {"conid": 265598, "sec_type": "STK", "symbol": "AAPL"}
BUY = {
    "symbol": "AAPL",
    "side": "buy",
    "qty": 2,
    "order_type": "limit",
    "time_in_force": "day",
    "asset_type": "stock",
}
LIFETIME = 3600.0


@pytest.fixture
def oauth_sim() -> Iterator[SimServer]:
    with SimServer(port=0, seed=5, rate_scale=SIM_SCALE, oauth=True, oauth_token_lifetime=LIFETIME,
                   idle_timeout=10 * LIFETIME) as sim:  # fmt: skip
        yield sim


def oauth_config(sim: SimServer, **overrides: Any) -> IBKRConfig:
    assert sim.oauth_credentials is not None
    values: dict[str, Any] = {
        "mode": "oauth",
        "oauth_credentials": str(sim.oauth_credentials),
        "oauth_base_url": sim.base_url,
        "ssl_verify": str(sim.oauth_credentials.parent / "ca.pem"),
        "max_requests_per_minute": 600,
        "request_timeout": 5.0,
    }
    values.update(overrides)
    return IBKRConfig(**values)


def oauth_client(kind: str, sim: SimServer, **overrides: Any) -> IBKRClient | AsyncIBKRClient:
    cls = IBKRClient if kind == "sync" else AsyncIBKRClient
    client = cls(oauth_config(sim, **overrides), pacer=Pacer(600, scale=SIM_SCALE), journal=MemoryJournal(),
                 retry=no_wait_retry())  # fmt: skip
    client.state.poll_interval = 0.05
    return client


def _oauth_state(sim: SimServer) -> dict[str, Any]:
    assert sim.state.oauth is not None
    return sim.state.oauth.state()


async def test_the_trading_path_signed(kind: str, oauth_sim: SimServer) -> None:
    client = oauth_client(kind, oauth_sim)
    try:
        assert client.mode == "oauth"
        start = await call(client.connect())
        assert start.status.authenticated
        assert _oauth_state(oauth_sim)["tokens_issued"] == 1
        assert client.oauth_token_expires_at is not None
        assert oauth_sim.state.oauth is not None
        assert client.ws_url.endswith("/v1/api/ws?oauth_token=" + oauth_sim.state.oauth.access_token)
        assert await call(client.positions())
        quote = (await call(client.snapshot([265598])))[0]
        assert quote.bid is not None
        order = {**BUY, "limit_price": round(quote.bid * 0.99, 2)}
        result = await call(client.place_order(order, AAPL))
        assert result.status == "open" and result.mode == "oauth"
        entry = client.journal.get(result.client_order_id)  # type: ignore[union-attr]
        assert entry is not None and entry.mode == "oauth" and entry.status == "open"
        live = await call(client.live_orders(filters=["submitted", "PreSubmitted"]))
        assert any(o.client_order_id == result.client_order_id for o in live)
        far = {**BUY, "limit_price": round(quote.bid * 0.8, 2)}  # o163, refused by the policy
        with pytest.raises(QuestionRefusedError):
            await call(client.place_order(far, AAPL))
        ack = await call(client.cancel_order(result.order_id))
        assert ack.msg
        assert _oauth_state(oauth_sim)["tokens_issued"] == 1  # one token signed everything
    finally:
        await call(client.close())


async def test_token_is_refreshed_before_it_expires(kind: str) -> None:
    # A token that lives 200 s more than the refresh margin; IBKR's clock then moves 250 s (inside
    # the timestamp skew, so the clocks still agree on signatures).
    with SimServer(
        port=0, rate_scale=SIM_SCALE, oauth=True, oauth_token_lifetime=REFRESH_MARGIN_S + 200
    ) as sim:
        await _refresh_before_expiry(kind, sim)


async def _refresh_before_expiry(kind: str, oauth_sim: SimServer) -> None:
    client = oauth_client(kind, oauth_sim)
    try:
        await call(client.connect())
        first = client.oauth_token_expires_at
        assert first is not None and client.oauth_refreshes == 0
        oauth_sim.admin.advance_clock(250)
        await call(client.tickle())  # still valid; this answer's Date tells the client how late it is
        assert client.oauth_refreshes == 0
        await call(client.positions())  # a new token first, then the request: no 401 on the way
        assert client.oauth_refreshes == 1
        assert client.oauth_token_expires_at is not None and client.oauth_token_expires_at > first
        assert _oauth_state(oauth_sim)["tokens_issued"] == 2
        gateway = IBKRGateway(client) if kind == "sync" else AsyncIBKRGateway(client)  # type: ignore[arg-type]
        status = await call(gateway.check())
        assert status.mode == "oauth" and status.oauth_refreshes == 1
        assert status.oauth_token_expires_at == client.oauth_token_expires_at
    finally:
        await call(client.close())


async def test_an_expired_token_heals_after_the_401(kind: str, oauth_sim: SimServer) -> None:
    client = oauth_client(kind, oauth_sim)
    try:
        await call(client.connect())
        oauth_sim.admin.advance_clock(LIFETIME + 60)
        # A client that believes its token good (IBKR ended it early, or the client's view is off):
        client._oauth.expires_at = 1e12  # type: ignore[union-attr]
        # 401 "invalid timestamp" -> IBKR's clock from Date, signed again -> 401 "token expired" ->
        # a new token -> the resend answers.
        rows = await call(client.positions())
        assert rows
        assert client.oauth_refreshes == 1 and _oauth_state(oauth_sim)["tokens_issued"] == 2
    finally:
        await call(client.close())


async def test_a_wrong_consumer_key_is_ibkrs_invalid_consumer(kind: str, oauth_sim: SimServer,
                                                              tmp_path: Path) -> None:  # fmt: skip
    client = oauth_client(kind, oauth_sim, oauth_consumer_key="WRONGKEYX")
    try:
        with pytest.raises(OAuthError, match="invalid consumer"):
            await call(client.connect())
    finally:
        await call(client.close())


async def test_nothing_secret_reaches_a_debug_log(kind: str, oauth_sim: SimServer,
                                                  caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    client = oauth_client(kind, oauth_sim)
    try:
        await call(client.connect())
        await call(client.positions())
        token = client._oauth._token  # type: ignore[union-attr]
        assert token
    finally:
        await call(client.close())
    assert oauth_sim.oauth_credentials is not None
    creds = json.loads(oauth_sim.oauth_credentials.read_text())
    key_pem = (oauth_sim.oauth_credentials.parent / creds["signature_key_file"]).read_text()
    assert oauth_sim.state.oauth is not None
    secrets = [token, creds["access_token"], creds["access_token_secret"], oauth_sim.state.oauth.prepend,
               key_pem.splitlines()[1]]  # fmt: skip
    text = "\n".join(r.getMessage() for r in caplog.records) + repr(client.config)
    assert caplog.records  # the DEBUG capture did see the traffic
    for secret in secrets:
        assert secret not in text


def test_the_sim_writes_a_complete_private_credential_set(oauth_sim: SimServer) -> None:
    path = oauth_sim.oauth_credentials
    assert path is not None and path.name == "oauth.json"
    data = json.loads(path.read_text())
    assert set(data) == {"consumer_key", "access_token", "access_token_secret", "dh_prime", "dh_generator",
                         "realm", "encryption_key_file", "signature_key_file",
                         "written_by"}  # fmt: skip
    assert data["written_by"] == "axion-ibkr sim"  # the mark that lets it rewrite its own set
    assert len(data["consumer_key"]) == 9 and data["consumer_key"].isalpha()
    for name in (data["encryption_key_file"], data["signature_key_file"]):
        pem = path.parent / name
        assert pem.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
        assert os.stat(pem).st_mode & 0o077 == 0
    assert (path.parent / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")


# -- bad credentials: a clear error naming what and where --------------------------------------


def _copy_set(sim: SimServer, tmp_path: Path) -> Path:
    assert sim.oauth_credentials is not None
    src = sim.oauth_credentials.parent
    for name in ("oauth.json", "private_encryption.pem", "private_signature.pem"):
        (tmp_path / name).write_bytes((src / name).read_bytes())
        (tmp_path / name).chmod(0o600)
    return tmp_path / "oauth.json"


def test_missing_credentials_file(oauth_sim: SimServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="oauth_credentials") as info:
        IBKRClient(oauth_config(oauth_sim, oauth_credentials=str(tmp_path / "nope.json")))
    assert str(tmp_path / "nope.json") in str(info.value)


def test_no_credentials_at_all(oauth_sim: SimServer) -> None:
    with pytest.raises(ConfigError, match="AXION_IBKR_OAUTH_CREDENTIALS"):
        IBKRClient(oauth_config(oauth_sim, oauth_credentials=None))


def test_wide_permissions_are_refused(oauth_sim: SimServer, tmp_path: Path) -> None:
    path = _copy_set(oauth_sim, tmp_path)
    (tmp_path / "private_signature.pem").chmod(0o644)
    with pytest.raises(ConfigError, match="signature_key_file") as info:
        IBKRClient(oauth_config(oauth_sim, oauth_credentials=str(path)))
    assert "private_signature.pem" in str(info.value) and "chmod 600" in str(info.value)


def test_malformed_key_is_named(oauth_sim: SimServer, tmp_path: Path) -> None:
    path = _copy_set(oauth_sim, tmp_path)
    (tmp_path / "private_encryption.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nbroken\n")
    with pytest.raises(ConfigError, match="encryption_key_file") as info:
        IBKRClient(oauth_config(oauth_sim, oauth_credentials=str(path)))
    assert "not a PEM private key" in str(info.value)


def test_a_key_that_does_not_decrypt_the_secret(oauth_sim: SimServer, tmp_path: Path) -> None:
    path = _copy_set(oauth_sim, tmp_path)
    # the signature key in the encryption key's place: a valid key, but not the pair
    (tmp_path / "private_encryption.pem").write_bytes((tmp_path / "private_signature.pem").read_bytes())
    # PKCS#1 v1.5 decryption with the wrong key usually does not fail (implicit rejection: random
    # bytes), so the wrong prepend shows at IBKR: the token request's signature does not verify. When
    # the ciphertext is not below the wrong key's modulus (it depends on the two generated keys) the
    # decryption itself fails first. Either way the error names the keys; nothing reaches IBKR signed.
    with pytest.raises((OAuthError, ConfigError)) as info:  # noqa: PT012 (the client is built inside)
        client = IBKRClient(oauth_config(oauth_sim, oauth_credentials=str(path)))
        with client:
            client.connect()
    if isinstance(info.value, OAuthError):
        assert re.search(r"invalid signature.*keys in the OAuth credentials", str(info.value))
    else:
        assert "oauth_encryption_key_file" in str(info.value) and "cannot decrypt" in str(info.value)


def test_missing_field_in_the_file(oauth_sim: SimServer, tmp_path: Path) -> None:
    path = _copy_set(oauth_sim, tmp_path)
    data = json.loads(path.read_text())
    del data["access_token"]
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"oauth_credentials\.access_token") as info:
        IBKRClient(oauth_config(oauth_sim, oauth_credentials=str(path)))
    assert str(path) in str(info.value)


def test_keys_one_by_one_from_the_environment(oauth_sim: SimServer) -> None:
    assert oauth_sim.oauth_credentials is not None
    data = json.loads(oauth_sim.oauth_credentials.read_text())
    base = oauth_sim.oauth_credentials.parent
    env = {
        "AXION_IBKR_MODE": "oauth",
        "AXION_IBKR_OAUTH_BASE_URL": oauth_sim.base_url,
        "AXION_IBKR_SSL_VERIFY": str(base / "ca.pem"),
        "AXION_IBKR_OAUTH_CONSUMER_KEY": data["consumer_key"],
        "AXION_IBKR_OAUTH_ACCESS_TOKEN": data["access_token"],
        "AXION_IBKR_OAUTH_ACCESS_TOKEN_SECRET": data["access_token_secret"],
        "AXION_IBKR_OAUTH_DH_PRIME": data["dh_prime"],
        "AXION_IBKR_OAUTH_ENCRYPTION_KEY_FILE": str(base / data["encryption_key_file"]),
        "AXION_IBKR_OAUTH_SIGNATURE_KEY_FILE": str(base / data["signature_key_file"]),
    }
    with IBKRClient(IBKRConfig.from_env(env), pacer=Pacer(600, scale=SIM_SCALE)) as client:
        assert client.connect().status.authenticated
    missing = {k: v for k, v in env.items() if k != "AXION_IBKR_OAUTH_ACCESS_TOKEN"}
    with pytest.raises(ConfigError, match=r"oauth_access_token.*AXION_IBKR_OAUTH_ACCESS_TOKEN"):
        IBKRClient(IBKRConfig.from_env(missing))


def test_auto_uses_oauth_when_no_gateway_listens_and_never_the_simulator(oauth_sim: SimServer) -> None:
    # port 9 on loopback: nothing listens
    client = IBKRClient(oauth_config(oauth_sim, mode="auto", gateway_port=9, probe_timeout=0.5),
                        pacer=Pacer(600, scale=SIM_SCALE))  # fmt: skip
    try:
        client.connect()
        assert client.mode == "oauth" and not client.is_fallback
        assert "OAuth credentials are configured" in client.mode_reason
    finally:
        client.close()


def test_credentials_from_the_user_config_file(oauth_sim: SimServer, user_config_file: Path) -> None:
    from axion_broker_ibkr.userconfig import save_user_setting

    assert oauth_sim.oauth_credentials is not None
    save_user_setting("mode", "oauth")
    save_user_setting("oauth_credentials", str(oauth_sim.oauth_credentials))
    save_user_setting("oauth_base_url", oauth_sim.base_url)
    save_user_setting("ssl_verify", str(oauth_sim.oauth_credentials.parent / "ca.pem"))
    config = IBKRConfig.from_mapping({})
    assert config.mode == "oauth" and config.oauth_credentials == str(oauth_sim.oauth_credentials)
    with IBKRClient(config, pacer=Pacer(600, scale=SIM_SCALE)) as client:
        assert client.connect().status.authenticated and client.mode == "oauth"


def test_an_lst_answer_that_does_not_validate_is_refused(oauth_sim: SimServer) -> None:
    """IBKR's ``live_session_token_signature`` must match the token the client computed."""
    import httpx

    def forged(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/oauth/live_session_token")
        answer = {"diffie_hellman_response": "2", "live_session_token_signature": "00" * 20,
                  "live_session_token_expiration": 4102444800000}  # fmt: skip
        return httpx.Response(200, json=answer)

    client = IBKRClient(oauth_config(oauth_sim), transport=httpx.MockTransport(forged), retry=no_wait_retry())
    with client, pytest.raises(OAuthError, match="does not validate"):
        client.auth_status()


def test_auto_prefers_a_listening_gateway_over_oauth(oauth_sim: SimServer, tmp_path: Path) -> None:
    with SimServer(port=0, rate_scale=SIM_SCALE) as gateway:
        assert oauth_sim.oauth_credentials is not None and gateway.cert_path is not None
        bundle = tmp_path / "both.pem"  # one CA bundle that verifies the gateway and the OAuth server
        bundle.write_text(
            gateway.cert_path.read_text() + (oauth_sim.oauth_credentials.parent / "ca.pem").read_text()
        )
        config = oauth_config(oauth_sim, mode="auto", gateway_host="127.0.0.1", gateway_port=gateway.port,
                              ssl_verify=str(bundle))  # fmt: skip
        with IBKRClient(config, pacer=Pacer(600, scale=SIM_SCALE)) as client:
            client.connect()
            assert client.mode == "gateway" and client.base_url == gateway.base_url
        assert oauth_sim.admin.state()["oauth"]["tokens_issued"] == 0


async def test_a_held_question_is_answered_over_oauth(kind: str, oauth_sim: SimServer) -> None:
    client = oauth_client(kind, oauth_sim)
    try:
        quote = (await call(client.snapshot([265598])))[0]
        assert quote.bid is not None
        far = {**BUY, "limit_price": round(quote.bid * 0.8, 2)}  # o163
        held = await call(client.place_order(far, AAPL, hold_questions=True))
        assert held.status == "pending" and held.question is not None
        assert "o163" in held.question.message_ids
        entry = client.journal.get(held.client_order_id)  # type: ignore[union-attr]
        assert entry is not None and entry.status == "awaiting_answer" and entry.mode == "oauth"
        placed = await call(client.answer_question(held.client_order_id, True))
        assert placed.status == "open" and placed.client_order_id == held.client_order_id
        await call(client.cancel_order(placed.order_id))
    finally:
        await call(client.close())
