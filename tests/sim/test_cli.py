"""``axion-ibkr sim`` runs the simulator and answers like the real gateway."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_cli_sim_answers_auth_status_and_stops_cleanly() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "axion_broker_ibkr.cli", "sim", "--port", str(port), "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"https://127.0.0.1:{port}/v1/api/iserver/auth/status"
        deadline = time.monotonic() + 30
        answer = None
        # The equivalent of: curl -k https://127.0.0.1:PORT/v1/api/iserver/auth/status -X POST -d '{}'
        with httpx.Client(verify=False) as client:
            while answer is None:
                try:
                    answer = client.post(url, content=b"{}")
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                    assert time.monotonic() < deadline, "the simulator did not come up"
                    time.sleep(0.1)
        assert answer.status_code == 200
        assert answer.json()["authenticated"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "listening on https://127.0.0.1" in output


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_cli_refuses_a_non_loopback_bind(host: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "axion_broker_ibkr.cli", "sim", "--host", host, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "loopback" in done.stderr
