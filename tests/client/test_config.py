"""IBKRConfig: defaults, the host mapping, AXION_IBKR_* variables, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from axion_broker_ibkr.config import IBKRConfig, is_loopback
from axion_broker_ibkr.errors import ConfigError

PIN = "sha256:" + "ab" * 32


def test_defaults_match_the_seed_and_ibkr() -> None:
    cfg = IBKRConfig()
    assert cfg.mode == "auto"
    assert cfg.gateway_url == "https://localhost:5000/v1/api"
    assert cfg.max_requests_per_minute == 50
    assert cfg.auto_confirm == ()
    assert cfg.allow_live_trading is False
    assert cfg.competing_policy == "wait"
    assert cfg.ssl_verify is True


def test_from_mapping_coerces_text_values() -> None:
    cfg = IBKRConfig.from_mapping(
        {
            "mode": "gateway",
            "gateway_port": "5001",
            "auto_confirm": "O163, o354",
            "allow_live_trading": "yes",
            "request_timeout": "2.5",
            "ssl_verify": PIN,
            "account_id": "DU1234567",
        },
        env={},
    )
    assert cfg.gateway_port == 5001
    assert cfg.auto_confirm == ("o163", "o354")
    assert cfg.allow_live_trading is True
    assert cfg.request_timeout == 2.5
    assert cfg.pinned_fingerprint == "ab" * 32


def test_mapping_wins_over_environment_which_wins_over_defaults() -> None:
    env = {"AXION_IBKR_GATEWAY_PORT": "5002", "AXION_IBKR_ACCOUNT_ID": "DU1"}
    cfg = IBKRConfig.from_mapping({"gateway_port": 5003}, env=env)
    assert cfg.gateway_port == 5003
    assert cfg.account_id == "DU1"
    assert IBKRConfig.from_env(env).gateway_port == 5002


def test_keyword_lists_are_normalised() -> None:
    assert IBKRConfig(auto_confirm=["O163", "o163", "p12"]).auto_confirm == ("o163", "p12")


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"mode": "paper"}, "mode"),
        ({"oauth_base_url": "http://api.ibkr.com/v1/api"}, "oauth_base_url"),
        ({"oauth_base_url": "https://api.ibkr.com/v1/api/"}, "oauth_base_url"),
        ({"mode": "oauth", "ssl_verify": PIN}, "ssl_verify"),
        ({"mode": "oauth", "ssl_verify": False}, "ssl_verify"),
        ({"gateway_port": 0}, "gateway_port"),
        ({"max_requests_per_minute": 601}, "max_requests_per_minute"),
        ({"max_requests_per_minute": 0}, "max_requests_per_minute"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"auto_confirm": ["yes"]}, "auto_confirm"),
        ({"competing_policy": "kick"}, "competing_policy"),
        ({"base_path": "v1/api/"}, "base_path"),
        ({"gateway_host": "gw.example.com", "ssl_verify": False}, "ssl_verify"),
        ({"mode": "sim", "sim_url": "https://10.0.0.5:5000", "ssl_verify": False}, "ssl_verify"),
        ({"ssl_verify": "sha256:1234"}, "ssl_verify"),
        ({"ssl_verify": "/no/such/bundle.pem"}, "ssl_verify"),
        ({"gateway_host": "gw.example.com", "ssl_verify": PIN}, "ssl_verify"),
        ({"account_id": "DU 123"}, "account_id"),
        ({"sim_url": "http://127.0.0.1:5000"}, "sim_url"),
    ],
)
def test_bad_values_name_the_key(kwargs: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        IBKRConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.key == key
    assert key in str(info.value)


def test_unknown_keys_and_unreadable_text_are_refused() -> None:
    with pytest.raises(ConfigError, match="acount_id"):
        IBKRConfig.from_mapping({"acount_id": "DU1"}, env={})
    with pytest.raises(ConfigError, match="AXION_IBKR_PROT"):
        IBKRConfig.from_env({"AXION_IBKR_PROT": "1"})
    with pytest.raises(ConfigError, match="gateway_port"):
        IBKRConfig.from_mapping({"gateway_port": "fifty"}, env={})
    with pytest.raises(ConfigError, match="allow_live_trading"):
        IBKRConfig.from_env({"AXION_IBKR_ALLOW_LIVE_TRADING": "perhaps"})


def test_ca_bundle_path_is_accepted_for_remote_hosts(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    cfg = IBKRConfig(gateway_host="gw.internal", ssl_verify=str(bundle))
    assert cfg.ssl_verify == str(bundle)
    assert cfg.pinned_fingerprint is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_false_means_trust_on_first_use_on_loopback_only(host: str) -> None:
    assert IBKRConfig(gateway_host=host, ssl_verify=False).ssl_verify is False
    assert IBKRConfig.from_env({"AXION_IBKR_SSL_VERIFY": "false"}).ssl_verify is False
    with pytest.raises(ConfigError, match=r"only allowed for a loopback gateway, not 'gw\.example\.com'"):
        IBKRConfig.from_env({"AXION_IBKR_SSL_VERIFY": "false", "AXION_IBKR_GATEWAY_HOST": "gw.example.com"})
