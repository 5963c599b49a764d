"""The reference host discovers the plugin through its entry point and registers it."""

from __future__ import annotations

import subprocess
import sys

from tests.host.multi_broker import CAPABILITY_KEYS, MultiBroker, make_plugin_manager

HEAVY = ("streamlit", "sqlalchemy", "alembic", "websockets", "uvicorn", "starlette", "httpx", "cryptography",
         "axion_broker_ibkr.sim", "axion_broker_ibkr.store", "axion_broker_ibkr.dashboard")  # fmt: skip


def test_host_discovers_ibkr() -> None:
    host = MultiBroker(make_plugin_manager())
    assert "ibkr" in host.brokers()
    caps = host.registry["ibkr"]
    assert set(CAPABILITY_KEYS) <= set(caps)


def test_capabilities_match_host_contract() -> None:
    caps = MultiBroker().registry["ibkr"]
    for key in ("stocks", "options", "etfs", "bonds", "forex", "futures", "margin", "short_selling",
                "extended_hours", "trailing_stops", "supports_websocket"):  # fmt: skip
        assert caps[key] is True, key
    for key in ("fractional_shares", "crypto", "mutual_funds"):
        assert caps[key] is False, key
    assert caps["rate_limit_per_minute"] == 50
    assert {"stock", "etf", "option", "options", "forex", "futures", "bond", "bonds"} <= set(
        caps["supported_assets"]
    )
    assert "crypto" not in caps["supported_assets"]
    assert isinstance(caps["fee_schedule"], dict) and isinstance(caps["latency_ms"], float)
    assert isinstance(caps["priority"], int)


def test_other_brokers_are_left_alone() -> None:
    pm = make_plugin_manager()
    assert pm.hook.axion_broker_translate_order(broker="alpaca", order={}, contract={}) is None


def test_plugin_import_is_cheap() -> None:
    """`-X importtime` of the plugin module lists none of the heavy dependencies."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import axion_broker_ibkr.plugin"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    offenders = sorted(
        name for name in imported for heavy in HEAVY if name == heavy or name.startswith(heavy + ".")
    )
    assert not offenders, f"plugin import pulls in heavy modules: {offenders}"
    assert "axion_broker_ibkr.plugin" in imported
