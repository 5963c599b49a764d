"""A real gateway is never mistaken for "no gateway" (issue 12, item 1).

A SimServer on a free port plays the real gateway (self-signed certificate, not pinned): in ``auto``
mode with the default ``ssl_verify``, ``axion-ibkr status`` and the adapter say "certificate not
trusted" with its fingerprint and ``axion-ibkr trust``, and never use the embedded simulator
(its own ``X-Axion-Simulator`` header does not count as "no gateway"). After ``axion-ibkr trust
--yes`` the same status works against that gateway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.cli import main
from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers import client_base
from axion_broker_ibkr.drivers.tls import trust_gateway
from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.gateway import IBKRGateway
from axion_broker_ibkr.userconfig import gateway_pin
from tests.client.conftest import SIM_SCALE

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A simulator standing for a real, unpinned gateway; the environment points auto mode at it."""
    from axion_broker_ibkr.sim import SimServer

    server = SimServer(port=0, seed=31, rate_scale=SIM_SCALE)
    server.start()
    port = int(server.root_url.rsplit(":", 1)[1])
    for name in ("AXION_IBKR_SSL_VERIFY", "AXION_IBKR_SIM_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AXION_IBKR_MODE", "auto")
    monkeypatch.setenv("AXION_IBKR_GATEWAY_HOST", "127.0.0.1")
    monkeypatch.setenv("AXION_IBKR_GATEWAY_PORT", str(port))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def no_embedded_sim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything starts the embedded simulator."""

    def refuse() -> Any:
        raise AssertionError("the embedded simulator was started instead of using the gateway")

    monkeypatch.setattr(client_base, "embedded_sim", refuse)


def _port(sim: Any) -> int:
    return int(sim.root_url.rsplit(":", 1)[1])


def test_status_says_certificate_not_trusted_then_trust_fixes_it(
    real_gateway: Any, no_embedded_sim: None, capsys: Any, user_config_file: Path
) -> None:
    port = _port(real_gateway)
    fp = real_gateway.cert_fingerprint  # "sha256:<hex>"
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("ERROR: certificate not trusted"), out
    assert fp.removeprefix("sha256:") in first and f"axion-ibkr trust --host 127.0.0.1 --port {port}" in first
    assert "sim" not in [line.split()[-1] for line in out.splitlines() if line.strip().startswith("Mode")]

    assert main(["trust", "--yes", "--host", "127.0.0.1", "--port", str(port)]) == 0
    assert fp in capsys.readouterr().out
    assert gateway_pin("127.0.0.1", port) == fp
    assert user_config_file.exists()

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SUCCESS: Connected and authenticated."), out


def test_status_subprocess_and_trust_refuses_without_a_terminal(
    real_gateway: Any, user_config_file: Path
) -> None:
    port = _port(real_gateway)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "axion_broker_ibkr.cli"]
    status = subprocess.run([*cmd, "status"], env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 1
    assert status.stdout.startswith("ERROR: certificate not trusted"), status.stdout + status.stderr
    assert real_gateway.cert_fingerprint.removeprefix("sha256:") in status.stdout

    refused = subprocess.run(
        [*cmd, "trust", "--port", str(port)], env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert gateway_pin("127.0.0.1", port) is None  # nothing saved

    trusted = subprocess.run(
        [*cmd, "trust", "--yes", "--host", "127.0.0.1", "--port", str(port)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    again = subprocess.run([*cmd, "status"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.startswith("SUCCESS"), again.stdout + again.stderr


def test_gateway_status_carries_the_fingerprint(real_gateway: Any, no_embedded_sim: None) -> None:
    with IBKRClient(IBKRConfig.from_env()) as client:
        status = IBKRGateway(client).check()
        assert client.mode == "gateway" and not client.is_fallback
    assert status.reachable and not status.trusted and not status.healthy
    assert status.certificate_fingerprint == real_gateway.cert_fingerprint
    assert status.message.startswith("certificate not trusted")


def test_adapter_says_certificate_not_trusted_and_never_uses_the_simulator(
    real_gateway: Any, no_embedded_sim: None
) -> None:
    import asyncio

    from axion_broker_ibkr.adapter import IBKRAdapter

    def adapter() -> IBKRAdapter:
        return IBKRAdapter.from_config({"database_url": "memory"})

    async def connect(plugin: IBKRAdapter) -> bool:
        try:
            return await plugin.connect()
        finally:
            await plugin.disconnect()

    untrusted = adapter()
    assert asyncio.run(connect(untrusted)) is False
    assert untrusted.mode == "gateway" and not untrusted.client.is_fallback
    assert untrusted.last_error.startswith("certificate not trusted")
    assert real_gateway.cert_fingerprint.removeprefix("sha256:") in untrusted.last_error
    assert untrusted.gateway.status.certificate_fingerprint == real_gateway.cert_fingerprint

    assert trust_gateway("127.0.0.1", _port(real_gateway)) == real_gateway.cert_fingerprint
    trusted = adapter()  # reads the saved pin through IBKRConfig.from_mapping
    assert asyncio.run(connect(trusted)) is True
    assert trusted.mode == "gateway" and trusted.client.peer == ("127.0.0.1", _port(real_gateway))


def test_trust_gateway_refuses_a_remote_host() -> None:
    with pytest.raises(ConfigError, match="gateway_host"):
        trust_gateway("192.0.2.10", 5000, timeout=0.2)


def test_trust_says_when_it_replaces_a_different_pin_and_when_nothing_changes(
    real_gateway: Any, capsys: Any, user_config_file: Path
) -> None:
    from axion_broker_ibkr.userconfig import save_gateway_pin

    port = _port(real_gateway)
    old = "sha256:" + "ab" * 32
    save_gateway_pin("127.0.0.1", port, old)
    assert main(["trust", "--yes", "--host", "127.0.0.1", "--port", str(port)]) == 0
    captured = capsys.readouterr()
    assert "DIFFERENT certificate" in captured.err and old in captured.err
    assert gateway_pin("127.0.0.1", port) == real_gateway.cert_fingerprint

    assert main(["trust", "--host", "127.0.0.1", "--port", str(port)]) == 0  # no question: same pin
    captured = capsys.readouterr()
    assert "already trusted" in captured.out and "DIFFERENT" not in captured.err
