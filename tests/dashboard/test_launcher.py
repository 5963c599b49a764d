"""``axion-ibkr dashboard`` decisions (no Streamlit, no simulator): when to start the simulator,
what the Streamlit child is told, and the CLI's --help for every subcommand."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from axion_broker_ibkr.cli import build_parser
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.dashboard import launcher

PIN = "sha256:" + "ab" * 32


def test_auto_mode_without_gateway_starts_the_simulator() -> None:
    plan = launcher.plan_launch(IBKRConfig(mode="auto"), {}, probe=False)
    assert plan.start_sim
    assert "nothing accepts connections" in plan.reason


def test_auto_mode_with_gateway_does_not_start_one() -> None:
    plan = launcher.plan_launch(IBKRConfig(mode="auto"), {"X": "1"}, probe=True)
    assert not plan.start_sim
    assert plan.env == {"X": "1"}


def test_gateway_mode_never_starts_the_simulator() -> None:
    assert not launcher.plan_launch(IBKRConfig(mode="gateway"), {}, probe=False).start_sim


def test_sim_mode_attaches_to_a_given_simulator() -> None:
    cfg = IBKRConfig(mode="sim", sim_url="https://127.0.0.1:5999")
    assert not launcher.plan_launch(cfg, {}, probe=False).start_sim
    assert launcher.plan_launch(IBKRConfig(mode="sim"), {}, probe=True).start_sim


def test_sim_env_is_a_valid_pinned_config() -> None:
    env = launcher.sim_env(
        {"PATH": "/bin"}, root_url="https://127.0.0.1:6001", fingerprint=PIN, fallback=True
    )
    assert env[launcher.FALLBACK_ENV] == "1"
    assert env["PATH"] == "/bin"
    cfg = IBKRConfig.from_env({k: v for k, v in env.items() if k.startswith("AXION_IBKR_")})
    assert cfg.mode == "sim"
    assert cfg.sim_url == "https://127.0.0.1:6001"
    assert cfg.pinned_fingerprint == "ab" * 32


def test_gateway_probe_sees_a_listening_port_and_a_closed_one() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        assert launcher.gateway_answers(
            IBKRConfig(gateway_host="127.0.0.1", gateway_port=port, probe_timeout=1)
        )
    assert not launcher.gateway_answers(
        IBKRConfig(gateway_host="127.0.0.1", gateway_port=port, probe_timeout=1)
    )


def test_streamlit_command_runs_the_packaged_app_headless() -> None:
    cmd = launcher.streamlit_command(8765)
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert cmd[4].endswith("dashboard/app.py")
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    assert cmd[cmd.index("--server.headless") + 1] == "true"


@pytest.mark.parametrize("command", ["dashboard", "status", "resolve", "quote", "sim", "db"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    assert "usage: axion-ibkr " + command in capsys.readouterr().out


def test_resolve_arguments() -> None:
    args = build_parser().parse_args(
        ["resolve", "AAPL", "--type", "option", "--strike", "195", "--right", "C"]
    )
    assert (args.symbol, args.type, args.strike, args.right) == ("AAPL", "option", 195.0, "C")


def test_console_script_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "axion_broker_ibkr.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("dashboard", "status", "resolve", "quote", "sim", "db"):
        assert command in out
