"""The translate hook's settings: environment over the user config file, read once, refreshed when
either changes (issue 13 item 8)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr import translate_settings as ts
from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.orders import TranslateOptions
from axion_broker_ibkr.plugin import axion_broker_translate_order
from axion_broker_ibkr.userconfig import save_user_setting

ENV_KEYS = tuple(f"AXION_IBKR_{key.upper()}" for key in ts.KEYS)
ES = {"conid": 495512563, "sec_type": "FUT", "symbol": "ES", "exchange": "CME", "currency": "USD",
      "multiplier": 50.0, "expiry": "20251219", "strike": None, "right": None, "description": "ES DEC25",
      "tick_size": 0.25}  # fmt: skip
ES_ORDER = {"symbol": "ES", "side": "buy", "qty": 1, "order_type": "market", "asset_type": "futures",
            "client_order_id": "fut-1"}  # fmt: skip


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Any:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    ts.forget()
    yield
    ts.forget()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every time the options are read from their sources (environment + file)."""
    seen: list[Path] = []
    real = ts._build

    def counting(environ: Any, path: Path) -> TranslateOptions:
        seen.append(path)
        return real(environ, path)

    monkeypatch.setattr(ts, "_build", counting)
    return seen


def test_read_once_while_nothing_changes(monkeypatch: pytest.MonkeyPatch, builds: list[Path]) -> None:
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "desk-7")
    first = ts.translate_options()
    for _ in range(1000):
        assert ts.translate_options() is first
    assert len(builds) == 1 and first.futures_operator == "desk-7"


def test_every_change_of_the_environment_is_seen_on_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ts.translate_options() == TranslateOptions()
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "dësk-7")  # non-ASCII survives the raw snapshot
    monkeypatch.setenv("AXION_IBKR_ACCOUNT_ID", " DU1234567 ")
    assert ts.translate_options() == TranslateOptions(account_id="DU1234567", futures_operator="dësk-7")
    os.environ["AXION_IBKR_ALLOW_FRACTIONAL"] = "yes"
    assert ts.translate_options().allow_fractional is True
    del os.environ["AXION_IBKR_ALLOW_FRACTIONAL"]
    assert ts.translate_options().allow_fractional is False
    monkeypatch.setenv("AXION_IBKR_MANUAL_ORDERS", "maybe")
    with pytest.raises(ValueError, match="AXION_IBKR_MANUAL_ORDERS"):
        ts.translate_options()
    with pytest.raises(ConfigError):  # a bad value is not cached: it raises until fixed
        ts.translate_options()
    monkeypatch.setenv("AXION_IBKR_MANUAL_ORDERS", "true")
    assert ts.translate_options().manual_orders is True


def test_the_user_config_file_is_read_below_the_environment(
    monkeypatch: pytest.MonkeyPatch, user_config_file: Path
) -> None:
    save_user_setting("futures_operator", "desk-from-file", user_config_file)
    save_user_setting("manual_orders", True, user_config_file)
    save_user_setting("account_id", "DU7654321", user_config_file)
    options = ts.translate_options()
    assert options == TranslateOptions(
        account_id="DU7654321", futures_operator="desk-from-file", manual_orders=True
    )
    monkeypatch.setenv("AXION_IBKR_FUTURES_OPERATOR", "desk-env")
    assert ts.translate_options().futures_operator == "desk-env"  # environment over file
    # Through the host's hook: the futures fields come from the file (none in the environment).
    monkeypatch.delenv("AXION_IBKR_FUTURES_OPERATOR")
    payload = axion_broker_translate_order("ibkr", ES_ORDER, ES)
    assert payload is not None
    assert (payload["extOperator"], payload["manualIndicator"], payload["acctId"]) == (
        "desk-from-file",
        True,
        "DU7654321",
    )


def test_a_changed_file_is_seen_after_the_check_interval(
    monkeypatch: pytest.MonkeyPatch, user_config_file: Path, builds: list[Path]
) -> None:
    save_user_setting("futures_operator", "desk-1", user_config_file)
    assert ts.translate_options().futures_operator == "desk-1"
    save_user_setting("futures_operator", "desk-22", user_config_file)  # another size: a new stamp
    # Within the interval the file is not even stat'ed: the cached value stands.
    assert ts.translate_options().futures_operator == "desk-1"
    monkeypatch.setattr(ts, "FILE_CHECK_SECONDS", 0.0)
    assert ts.translate_options().futures_operator == "desk-22"
    assert ts.translate_options().futures_operator == "desk-22"
    assert len(builds) == 2  # an unchanged stamp does not read the file again
    user_config_file.unlink()
    assert ts.translate_options().futures_operator is None


def test_moving_the_config_file_is_an_environment_change(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other.toml"
    save_user_setting("futures_operator", "desk-other", other)
    assert ts.translate_options().futures_operator is None
    monkeypatch.setenv("AXION_IBKR_CONFIG_FILE", str(other))
    assert ts.translate_options().futures_operator == "desk-other"


def test_a_bad_file_value_names_the_setting_and_the_file(user_config_file: Path) -> None:
    user_config_file.write_text('allow_fractional = "sometimes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="allow_fractional") as info:
        ts.translate_options()
    assert str(user_config_file) in str(info.value)


def test_a_replaced_os_environ_is_read_through_its_public_get(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", {"AXION_IBKR_FUTURES_OPERATOR": "desk-9"})
    assert ts.translate_options() == TranslateOptions(futures_operator="desk-9")
    os.environ["AXION_IBKR_FUTURES_OPERATOR"] = "desk-10"
    assert ts.translate_options().futures_operator == "desk-10"
