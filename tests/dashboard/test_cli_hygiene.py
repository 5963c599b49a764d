"""CLI hygiene found by using the product: one-line errors, and SIGTERM to `dashboard` leaves nothing."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "axion_broker_ibkr.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_dashboard_sim_port_out_of_range_is_one_line_error() -> None:
    proc = _run("dashboard", "--sim-port", "70000")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "--sim-port: port must be from 0 to 65535, got 70000" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_db_upgrade_on_an_unreachable_server_is_one_line_without_the_password() -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://qa:s3cret@127.0.0.1:{_free_port()}/nothing"  # nothing listens there
    proc = _run("db", "upgrade", "--url", url)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "s3cret" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("axion-ibkr db upgrade: cannot open postgresql://qa:***@127.0.0.1:")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_sigterm_to_dashboard_stops_streamlit_and_the_simulator_and_removes_its_key(tmp_path: Path) -> None:
    pytest.importorskip("streamlit")
    port = _free_port()
    env = {
        **os.environ,
        "AXION_IBKR_MODE": "sim",
        "AXION_IBKR_DATABASE_URL": "memory",
        "AXION_IBKR_CONFIG_FILE": str(tmp_path / "config.toml"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "axion_broker_ibkr.cli", "dashboard", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, so a failing test can still clean up
    )
    try:
        assert proc.stdout is not None
        sim_port = None
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            match = re.search(r"simulator listening at https://127\.0\.0\.1:(\d+)", line)
            if match:
                sim_port = int(match.group(1))
                break
            assert time.monotonic() < deadline, "the launcher never said where the simulator is"
        assert sim_port is not None
        sim_dir = _sim_dir_of(sim_port)
        while True:  # Streamlit up
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Streamlit never answered"
            time.sleep(0.5)
        assert (sim_dir / "cert.pem").exists()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while (_listening(port) or _listening(sim_port)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(port), "Streamlit still serves after SIGTERM to the launcher"
        assert not _listening(sim_port), "the simulator still serves after SIGTERM"
        assert not sim_dir.exists(), f"the simulator's private key stayed behind in {sim_dir}"
    finally:
        # whatever the launcher left behind (the defect this test catches) goes too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _sim_dir_of(sim_port: int) -> Path:
    """The simulator's temporary directory, read found by its certificate."""
    import ssl
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    pem = ssl.get_server_certificate(("127.0.0.1", sim_port))
    wanted = x509.load_pem_x509_certificate(pem.encode()).fingerprint(hashes.SHA256())
    for d in Path(tempfile.gettempdir()).glob("axion-ibkr-sim-*"):
        cert = d / "cert.pem"
        try:
            if x509.load_pem_x509_certificate(cert.read_bytes()).fingerprint(hashes.SHA256()) == wanted:
                return d
        except (OSError, ValueError):
            continue
    raise AssertionError("no temporary directory holds the simulator's certificate")


def test_dashboard_with_a_bad_setting_or_a_taken_simulator_port_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "AXION_IBKR_CONFIG_FILE": str(tmp_path / "config.toml")}
    bad = _run("dashboard", env={**env, "AXION_IBKR_GATEWAY_PORT": "abc"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "axion-ibkr dashboard: invalid IBKR config 'gateway_port'" in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _run("dashboard", "--mode", "sim", "--sim-port", str(port), env=env)
    assert busy.returncode == 2 and "Traceback" not in busy.stderr
    assert f"cannot start the simulator on port {port}" in busy.stderr
