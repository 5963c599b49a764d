from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "argv", [["sim", "--port", "99999"], ["dashboard", "--port", "70000"], ["sim", "--port", "x"]]
)
def test_bad_port_is_one_line_error(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "axion_broker_ibkr.cli", *argv], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "port must be" in proc.stderr
