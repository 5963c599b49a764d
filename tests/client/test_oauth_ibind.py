"""The outside check: ibind 0.2.2's OAuth 1.0a client, unmodified, against ``SimServer(oauth=True)``.

Nobody here wrote ibind's OAuth code, so when it gets a live session token from the simulator and
trades through it, the simulator follows IBKR (as ibind does) and not merely our own client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.sim import SimServer
from tests.conftest import skip_or_fail

AAPL = 265598


def _ibind() -> Any:
    """ibind, the outside check (a test dependency): skipped locally without it, a failure in CI."""
    try:
        import ibind
        from ibind.oauth.oauth1a import OAuth1aConfig  # noqa: F401  (needs pycryptodome)
    except ImportError:
        skip_or_fail("ibind[oauth] is not installed (pip install -e '.[test]')")
    return ibind


@pytest.fixture
def oauth_sim() -> Iterator[SimServer]:
    with SimServer(port=0, oauth=True, rate_scale=1000.0) as sim:
        yield sim


def _config(sim: SimServer, **overrides: Any) -> Any:
    from ibind.oauth.oauth1a import OAuth1aConfig

    assert sim.oauth_credentials is not None
    creds = json.loads(sim.oauth_credentials.read_text())
    base = sim.oauth_credentials.parent
    values: dict[str, Any] = {
        "oauth_rest_url": sim.base_url + "/",
        "access_token": creds["access_token"],
        "access_token_secret": creds["access_token_secret"],
        "consumer_key": creds["consumer_key"],
        "dh_prime": creds["dh_prime"],
        "dh_generator": str(creds["dh_generator"]),
        "realm": creds["realm"],
        "encryption_key_fp": str(base / creds["encryption_key_file"]),
        "signature_key_fp": str(base / creds["signature_key_file"]),
        "maintain_oauth": False,  # no tickler thread in a test
        "init_brokerage_session": True,
        "shutdown_oauth": False,
    }
    values.update(overrides)
    return OAuth1aConfig(**values)


def test_ibind_oauth_client_runs_the_trading_path(
    oauth_sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ibind = _ibind()
    from ibind.client.ibkr_utils import OrderRequest, QuestionType

    # ibind forces cacert=True with OAuth; requests then trusts REQUESTS_CA_BUNDLE: the sim's ca.pem.
    assert oauth_sim.oauth_credentials is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(oauth_sim.oauth_credentials.parent / "ca.pem"))
    client = ibind.IbkrClient(use_oauth=True, oauth_config=_config(oauth_sim), use_session=True)
    try:
        assert client.live_session_token
        assert oauth_sim.state.oauth is not None
        assert oauth_sim.state.oauth.issued == 1
        assert client.tickle().data["session"]
        accounts = client.receive_brokerage_accounts().data
        account = accounts["accounts"][0]
        assert client.portfolio_accounts().data
        positions = client.positions(account_id=account).data
        assert isinstance(positions, list) and positions
        snap = client.live_marketdata_snapshot(str(AAPL), ["31", "84", "86"]).data
        assert isinstance(snap, list) and str(snap[0]["conid"]) == str(AAPL)
        # A market order: the simulator asks (o10151, and o354 without market data) like IBKR.
        order = OrderRequest(
            conid=AAPL,
            side="BUY",
            quantity=1,
            order_type="MKT",
            acct_id=account,
            tif="DAY",
            coid="ibind-oauth-1",
        )
        # ibind matches answers by substring of str(key); its enum lacks o10151's text, a str key works.
        answers: dict[Any, bool] = {q: True for q in QuestionType}
        answers["You are about to submit a market order"] = True
        placed = client.place_order(order, answers, account_id=account).data
        placed = placed[0] if isinstance(placed, list) else placed
        assert placed.get("order_id"), placed
        limit = OrderRequest(
            conid=AAPL,
            side="BUY",
            quantity=1,
            order_type="LMT",
            price=1.0,
            acct_id=account,
            tif="DAY",
            coid="ibind-oauth-2",
        )
        resting = client.place_order(limit, answers, account_id=account).data
        resting = resting[0] if isinstance(resting, list) else resting
        client.live_orders(force=True)
        live = client.live_orders().data
        ids = {str(o.get("orderId")) for o in live.get("orders", [])}
        assert str(resting["order_id"]) in ids
        cancelled = client.cancel_order(str(resting["order_id"]), account_id=account).data
        assert cancelled["msg"] == "Request was submitted"  # IBKR's cancel acknowledgement
        assert str(cancelled["order_id"]) == str(resting["order_id"])
        assert oauth_sim.state.oauth.issued == 1  # one token served the whole session
    finally:
        client.close()


def test_ibind_with_a_wrong_consumer_key_gets_ibkrs_invalid_consumer(
    oauth_sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ibind = _ibind()
    from ibind.support.errors import ExternalBrokerError

    assert oauth_sim.oauth_credentials is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(oauth_sim.oauth_credentials.parent / "ca.pem"))
    with pytest.raises(ExternalBrokerError) as info:
        ibind.IbkrClient(
            use_oauth=True, oauth_config=_config(oauth_sim, consumer_key="WRONGKEYX"), max_retries=0
        )
    assert "invalid consumer" in str(info.value)


def test_our_primitives_agree_with_ibinds() -> None:
    """Base string (ordering, quoting, prepend), header format, signatures and the token: ours and
    ibind's give the same bytes for the same inputs."""
    _ibind()
    import secrets

    from cryptography.hazmat.primitives.asymmetric import rsa
    from ibind.oauth import oauth1a as ib

    from axion_broker_ibkr import oauth as ours
    from axion_broker_ibkr.sim.api.oauth import RFC3526_PRIME_2048

    params = {
        "oauth_consumer_key": "TESTCONS",
        "oauth_nonce": "abcDEF123",
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": "1700000000",
        "oauth_token": "0123456789abcdef0123",
        "diffie_hellman_challenge": "9f3a",
    }
    url = "https://api.ibkr.com/v1/api/iserver/account/DU1234567/orders"
    prepend = secrets.token_bytes(32).hex()
    assert ours.base_string("POST", url, params, prepend=prepend) == ib.generate_base_string(
        request_method="POST", request_url=url, request_headers=params, prepend=prepend
    )
    assert ours.authorization_header({**params, "oauth_signature": "x%2B"}, "limited_poa") == (
        ib.generate_authorization_header_string({**params, "oauth_signature": "x%2B"}, "limited_poa")
    )
    a, challenge = ours.dh_challenge(RFC3526_PRIME_2048)
    assert challenge == ib.generate_dh_challenge(format(RFC3526_PRIME_2048, "x"), format(a, "x"), 2)
    b = secrets.randbits(256)
    b_pub = format(pow(2, b, RFC3526_PRIME_2048), "x")
    token = ours.live_session_token(b_pub, a, RFC3526_PRIME_2048, prepend)
    assert token == ib.calculate_live_session_token(
        format(RFC3526_PRIME_2048, "x"), format(a, "x"), b_pub, prepend
    )
    text = ours.base_string("GET", url, params)
    assert ours.hmac_sha256_signature(token, text) == ib.generate_hmac_sha_256_signature(text, token)
    key = rsa.generate_private_key(65537, 2048)
    from Crypto.PublicKey import RSA
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert ours.rsa_sha256_signature(key, text) == ib.generate_rsa_sha_256_signature(text, RSA.importKey(pem))
