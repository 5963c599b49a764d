"""First contact with a self-signed gateway (the simulator stands for it, over real TLS): the default
verification names the presented certificate and the pin to set; ``ssl_verify=False`` on loopback is
trust on first use, pinned for the life of the client; a pin that does not match names both."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from axion_broker_ibkr.client import AsyncIBKRClient, IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.errors import UntrustedCertificateError
from axion_broker_ibkr.gateway import AsyncIBKRGateway, IBKRGateway
from tests.client.conftest import SIM_SCALE, call


def _port(sim: Any) -> int:
    return int(sim.root_url.rsplit(":", 1)[1])


def _client(kind: str, sim: Any, **config: Any) -> IBKRClient | AsyncIBKRClient:
    cfg = IBKRConfig(mode="gateway", gateway_host="127.0.0.1", gateway_port=_port(sim),
                     max_requests_per_minute=600, **config)  # fmt: skip
    return IBKRClient(cfg) if kind == "sync" else AsyncIBKRClient(cfg)


def _gateway(client: Any) -> Any:
    return IBKRGateway(client) if isinstance(client, IBKRClient) else AsyncIBKRGateway(client)


@pytest.fixture
def own_sim() -> Iterator[Any]:
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=21, rate_scale=SIM_SCALE)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_default_verification_names_the_certificate_and_the_pin(kind: str, fast_sim: Any) -> None:
    client = _client(kind, fast_sim)
    fingerprint = fast_sim.cert_fingerprint  # "sha256:<hex>"
    with pytest.raises(UntrustedCertificateError) as info:
        await call(client.auth_status())
    message = str(info.value)
    assert info.value.fingerprint == fingerprint.removeprefix("sha256:")
    assert f"AXION_IBKR_SSL_VERIFY={fingerprint}" in message
    assert "loopback" in message and "127.0.0.1" in message
    status = await call(_gateway(client).check())  # the status the Gateway tab and `status` show
    assert not status.healthy and f"AXION_IBKR_SSL_VERIFY={fingerprint}" in status.message
    await call(client.close())


async def test_the_suggested_pin_works(kind: str, fast_sim: Any) -> None:
    first = _client(kind, fast_sim)
    with pytest.raises(UntrustedCertificateError) as info:
        await call(first.auth_status())
    await call(first.close())
    pinned = _client(kind, fast_sim, ssl_verify=f"sha256:{info.value.fingerprint}")
    assert (await call(pinned.auth_status())).authenticated
    assert pinned.trusted_fingerprint == info.value.fingerprint
    await call(pinned.close())


async def test_false_on_loopback_trusts_on_first_use_and_warns(
    kind: str, fast_sim: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(kind, fast_sim, ssl_verify=False)
    with caplog.at_level(logging.WARNING, logger="axion_broker_ibkr.client"):
        assert (await call(client.auth_status())).authenticated
    assert client.trusted_fingerprint == fast_sim.cert_fingerprint.removeprefix("sha256:")
    warnings = [r.getMessage() for r in caplog.records if "trust on first use" in r.getMessage()]
    assert len(warnings) == 1 and f"AXION_IBKR_SSL_VERIFY={fast_sim.cert_fingerprint}" in warnings[0]
    assert (await call(client.accounts())).selected_account  # same pin, no second fetch or warning
    assert sum("trust on first use" in r.getMessage() for r in caplog.records) == 1
    await call(client.close())


async def test_first_use_pin_refuses_a_different_certificate_later(kind: str, own_sim: Any) -> None:
    from axion_broker_ibkr.sim import SimServer

    port, first_fp = _port(own_sim), own_sim.cert_fingerprint
    client = _client(kind, own_sim, ssl_verify=False)
    assert (await call(client.auth_status())).authenticated
    own_sim.stop()
    other = SimServer(port=port, seed=22, rate_scale=SIM_SCALE)  # same address, a new certificate
    other.start()
    try:
        assert other.cert_fingerprint != first_fp
        await call(client.close())  # drop the kept-alive connection: the next request handshakes again
        with pytest.raises(UntrustedCertificateError) as info:
            await call(client.auth_status())
        message = str(info.value)
        assert f"now presents {other.cert_fingerprint}" in message and first_fp in message
        assert info.value.fingerprint == other.cert_fingerprint.removeprefix("sha256:")
        assert client.trusted_fingerprint == first_fp.removeprefix("sha256:")
    finally:
        await call(client.close())
        other.stop()


async def test_wrong_pin_names_the_presented_certificate(kind: str, fast_sim: Any) -> None:
    client = _client(kind, fast_sim, ssl_verify="sha256:" + "0" * 64)
    with pytest.raises(UntrustedCertificateError) as info:
        await call(client.auth_status())
    assert f"AXION_IBKR_SSL_VERIFY={fast_sim.cert_fingerprint}" in str(info.value)
    assert "not the pinned sha256:" + "0" * 64 in str(info.value)
    # the command that re-pins it is named too, for this gateway
    assert f"axion-ibkr trust --host 127.0.0.1 --port {_port(fast_sim)}" in str(info.value)


async def test_auto_mode_untrusted_gateway_is_the_gateway_not_a_fallback(kind: str, fast_sim: Any) -> None:
    cfg = IBKRConfig(mode="auto", gateway_host="127.0.0.1", gateway_port=_port(fast_sim))
    client = IBKRClient(cfg) if kind == "sync" else AsyncIBKRClient(cfg)
    with pytest.raises(UntrustedCertificateError) as info:
        await call(client.auth_status())
    assert client.mode == "gateway" and not client.is_fallback
    assert str(info.value).startswith("certificate not trusted")
    assert f"AXION_IBKR_SSL_VERIFY={fast_sim.cert_fingerprint}" in str(info.value)
    assert f"axion-ibkr trust --host 127.0.0.1 --port {_port(fast_sim)}" in str(info.value)
    await call(client.close())


def test_status_command_names_the_pin(fast_sim: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from axion_broker_ibkr.cli import main

    monkeypatch.setenv("AXION_IBKR_MODE", "gateway")
    monkeypatch.setenv("AXION_IBKR_GATEWAY_HOST", "127.0.0.1")
    monkeypatch.setenv("AXION_IBKR_GATEWAY_PORT", str(_port(fast_sim)))
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert f"AXION_IBKR_SSL_VERIFY={fast_sim.cert_fingerprint}" in out
    assert out.startswith("ERROR: ") and "certificate" in out.splitlines()[0]
