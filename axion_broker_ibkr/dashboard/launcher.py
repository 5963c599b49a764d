"""``axion-ibkr dashboard``: find a gateway or start the simulator, then run Streamlit on the page.

No Streamlit import here: Streamlit runs in a child process (``python -m streamlit run app.py``),
and this process owns the simulator (when one is needed) for the child's whole life. The child
learns where the simulator is through ``AXION_IBKR_*`` variables (``mode=sim``, ``sim_url``, and
the certificate pin in ``ssl_verify``), which :func:`~axion_broker_ibkr.dashboard.factory` reads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import define

from ..config import IBKRConfig
from ..drivers.probe import gateway_listening

log = logging.getLogger(__name__)

APP_FILE = Path(__file__).with_name("app.py")
#: Not an ``AXION_IBKR_*`` setting (IBKRConfig refuses unknown keys there): tells the page that
#: ``auto`` mode fell back to the simulator, so the banner can say so.
FALLBACK_ENV = "AXION_DASHBOARD_IBKR_FALLBACK"


@define(frozen=True, kw_only=True)
class LaunchPlan:
    """What the dashboard command decided: the child's environment and a sentence for the trader."""

    env: dict[str, str]
    start_sim: bool
    reason: str


def gateway_answers(config: IBKRConfig) -> bool:
    """True when something accepts TCP connections at the configured gateway address.

    The one ``auto`` rule (:mod:`axion_broker_ibkr.drivers.probe`, also used by the clients): anything
    that accepts a connection is the gateway, trusted or not, logged in or not; the page then says
    "certificate not trusted" or "log in at <URL>" rather than falling back to the simulator.
    """
    return gateway_listening(config.gateway_host, config.gateway_port, config.probe_timeout)


def plan_launch(config: IBKRConfig, env: Mapping[str, str], *, probe: bool | None = None) -> LaunchPlan:
    """Decide whether to start the simulator. ``probe`` overrides the TCP probe (tests)."""
    child = dict(env)
    if config.mode == "gateway":
        return LaunchPlan(env=child, start_sim=False, reason=f"gateway mode: {config.gateway_url}")
    if config.mode == "sim":
        if config.sim_url:
            return LaunchPlan(env=child, start_sim=False, reason=f"simulator at {config.sim_url}")
        return LaunchPlan(env=child, start_sim=True, reason="sim mode: starting the embedded simulator")
    answers = gateway_answers(config) if probe is None else probe
    if answers:
        return LaunchPlan(
            env=child, start_sim=False, reason=f"auto mode: a gateway answers at {config.gateway_root}"
        )
    return LaunchPlan(
        env=child,
        start_sim=True,
        reason=(
            f"auto mode: nothing accepts connections at {config.gateway_root}; "
            "starting the embedded simulator"
        ),
    )


def sim_env(env: Mapping[str, str], *, root_url: str, fingerprint: str, fallback: bool) -> dict[str, str]:
    """The child's environment once a simulator runs at ``root_url`` (pinned to its certificate)."""
    child = dict(env)
    child["AXION_IBKR_MODE"] = "sim"
    child["AXION_IBKR_SIM_URL"] = root_url
    child["AXION_IBKR_SSL_VERIFY"] = fingerprint
    # A pin is only accepted for a loopback gateway host; the simulator is on loopback.
    child["AXION_IBKR_GATEWAY_HOST"] = "127.0.0.1"
    if fallback:
        child[FALLBACK_ENV] = "1"
    return child


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_FILE),
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]


@contextlib.contextmanager
def _signals_stop(fired: list[int]) -> Iterator[None]:
    """While the dashboard runs, SIGTERM and SIGHUP stop it as Ctrl-C does (``KeyboardInterrupt``
    in the main thread; the signal is appended to ``fired``). Python's default would end the
    process at once, leaving Streamlit running and the simulator's private key in its temporary
    directory. A second signal during the shutdown is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        if not fired:
            fired.append(signum)
            raise KeyboardInterrupt

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stop_child(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int:
    """Stop the Streamlit child and everything in its process group: SIGTERM, then SIGKILL after
    ``timeout`` seconds. Returns its exit status."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
    returncode = proc.wait()
    _signal_group(proc, signal.SIGKILL)  # anything the child left behind in its group
    return returncode


def _signal_group(proc: subprocess.Popen[Any], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "posix":
            os.killpg(proc.pid, sig)
        elif proc.poll() is None:
            proc.send_signal(sig)


def run_dashboard(
    *,
    port: int = 8501,
    address: str = "127.0.0.1",
    mode: str | None = None,
    sim_port: int = 0,
    seed: int = 0,
    extra_args: Sequence[str] = (),
) -> int:
    """Run the dashboard until Streamlit exits. Ctrl-C, SIGTERM and SIGHUP stop Streamlit (its
    whole process group) and the simulator this command started, whose temporary directory (it
    holds the simulator's private key) is removed; the exit status is then 128 + the signal."""
    env = dict(os.environ)
    if mode:
        env["AXION_IBKR_MODE"] = mode
    config = IBKRConfig.from_env(env)
    plan = plan_launch(config, env)
    log.warning("%s", plan.reason)
    sim: Any = None
    proc: subprocess.Popen[Any] | None = None
    child_env = plan.env
    fired: list[int] = []
    with _signals_stop(fired):
        try:
            if plan.start_sim:
                from ..sim import SimServer

                sim = SimServer(host="127.0.0.1", port=sim_port, seed=seed)
                sim.start()
                child_env = sim_env(
                    env,
                    root_url=sim.root_url,
                    fingerprint=sim.cert_fingerprint,
                    fallback=config.mode == "auto",
                )
                log.warning("simulator listening at %s (certificate %s)", sim.root_url, sim.cert_fingerprint)
            cmd = [*streamlit_command(port, address), *extra_args]
            log.warning("dashboard at http://%s:%d", address, port)
            # Its own process group: Ctrl-C and signals reach this process, which stops the whole
            # group, so no Streamlit server outlives the command.
            group: dict[str, Any] = {"process_group": 0} if os.name == "posix" else {}
            proc = subprocess.Popen(cmd, env=child_env, **group)
            return proc.wait()
        except KeyboardInterrupt:
            signum = fired[0] if fired else int(signal.SIGINT)
            log.warning("%s: stopping the dashboard", signal.Signals(signum).name)
            return 128 + signum
        finally:
            try:
                if proc is not None:
                    stop_child(proc)
            finally:
                if sim is not None:
                    sim.stop()  # removes its temporary directory (certificate and private key)
