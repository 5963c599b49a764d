"""The user config file: precedence below the host config and the environment, pins per gateway."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.userconfig import (
    ENV_VAR,
    dumps,
    gateway_pin,
    load_user_config,
    save_gateway_pin,
    save_user_setting,
)

PIN = "sha256:" + "ab" * 32


def test_file_settings_sit_below_environment_and_host_config(user_config_file: Path) -> None:
    save_user_setting("futures_operator", "from-file")
    save_user_setting("auto_confirm", ["o163"])
    env = {ENV_VAR: str(user_config_file)}
    cfg = IBKRConfig.from_mapping({}, env=env)
    assert cfg.futures_operator == "from-file"
    assert cfg.auto_confirm == ("o163",)
    cfg = IBKRConfig.from_mapping({}, env={**env, "AXION_IBKR_FUTURES_OPERATOR": "from-env"})
    assert cfg.futures_operator == "from-env"
    cfg = IBKRConfig.from_mapping(
        {"futures_operator": "from-host"}, env={**env, "AXION_IBKR_FUTURES_OPERATOR": "from-env"}
    )
    assert cfg.futures_operator == "from-host"


def test_saved_pin_applies_to_its_gateway_only(user_config_file: Path) -> None:
    save_gateway_pin("localhost", 5000, PIN)
    env = {ENV_VAR: str(user_config_file)}
    assert gateway_pin("LOCALHOST", 5000) == PIN
    assert IBKRConfig.from_mapping({}, env=env).ssl_verify == PIN
    assert IBKRConfig.from_mapping({"gateway_port": 5001}, env=env).ssl_verify is True
    # An explicit ssl_verify wins over the saved pin.
    assert IBKRConfig.from_mapping({"ssl_verify": True}, env=env).ssl_verify is True


def test_file_is_private_and_round_trips(user_config_file: Path) -> None:
    save_user_setting("manual_orders", True)
    save_gateway_pin("127.0.0.1", 5000, PIN)
    mode = stat.S_IMODE(user_config_file.stat().st_mode)
    assert mode == 0o600
    data = load_user_config()
    assert data == {"manual_orders": True, "gateways": {"127.0.0.1:5000": {"pin": PIN}}}
    save_user_setting("manual_orders", None)
    assert "manual_orders" not in load_user_config()
    assert dumps({"a": 'x"y', "t": {"k": 1}}) == 'a = "x\\"y"\n\n[t]\nk = 1\n'


def test_bad_file_names_itself(user_config_file: Path) -> None:
    user_config_file.write_text("futures_operator = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        IBKRConfig.from_env({ENV_VAR: str(user_config_file)})
    user_config_file.write_text('no_such_key = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no_such_key"):
        IBKRConfig.from_env({ENV_VAR: str(user_config_file)})
