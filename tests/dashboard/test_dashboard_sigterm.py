"""Process hygiene (issue 11 item 6): SIGTERM to ``axion-ibkr dashboard`` stops Streamlit and the
simulator it started, frees the page's port and removes the simulator's temporary directory,
which holds its private key. The real command, in a child process, with a ``TMPDIR`` of its own."""

from __future__ import annotations

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

from tests.procs import alive, descendants, stop_tree

STARTUP_TIMEOUT = 90.0

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_stops_streamlit_and_the_simulator_and_removes_its_key(tmp_path: Path) -> None:
    port = _free_port()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXION_IBKR_")}
    env.update(
        {
            "AXION_IBKR_MODE": "auto",
            "AXION_IBKR_GATEWAY_HOST": "127.0.0.1",
            "AXION_IBKR_GATEWAY_PORT": str(_free_port()),  # nothing listens: the simulator starts
            "AXION_IBKR_DATABASE_URL": f"sqlite:///{tmp_path / 'orders.sqlite'}",
            "AXION_IBKR_CONFIG_FILE": str(tmp_path / "config.toml"),
            "HOME": str(tmp_path),
            "TMPDIR": str(tmpdir),
        }
    )
    stderr = (tmp_path / "stderr").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "axion_broker_ibkr.cli", "dashboard", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        sim_port = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "stderr").read_text()
            found = re.search(
                r"simulator listening at https://127\.0\.0\.1:(\d+)", (tmp_path / "stderr").read_text()
            )
            if found:
                sim_port = int(found.group(1))
            try:
                if sim_port and httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            raise AssertionError(f"dashboard not ready:\n{(tmp_path / 'stderr').read_text()}")
        children = descendants(proc.pid)
        assert children, "Streamlit runs as a child of the dashboard command"
        sim_dirs = list(tmpdir.glob("axion-ibkr-sim-*"))
        assert len(sim_dirs) == 1 and (sim_dirs[0] / "cert.pem").exists()

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        left = stop_tree(proc) if proc.poll() is None else []
        stderr.close()
    assert not left
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(alive(p) for p in children):
        time.sleep(0.1)
    assert not [p for p in children if alive(p)], "a child of the dashboard outlived it"
    assert _port_free(port), f"port {port} is still taken"
    assert sim_port is not None and not _accepts(sim_port), "the simulator still answers"
    assert not list(tmpdir.glob("axion-ibkr-sim-*")), "the simulator's private key was left behind"
    assert "SIGTERM: stopping the dashboard" in (tmp_path / "stderr").read_text()
