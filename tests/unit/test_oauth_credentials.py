import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from axion_broker_ibkr.errors import ConfigError
from axion_broker_ibkr.oauth.credentials import load_credentials_file


def _write(tmp_path: Path, **over: object) -> Path:
    for name in ("enc.pem", "sig.pem"):
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        f = tmp_path / name
        f.write_bytes(
            k.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        f.chmod(0o600)
    data: dict[str, object] = {
        "consumer_key": "TESTCONS",
        "access_token": "tok",
        "access_token_secret": "c2VjcmV0",
        "dh_prime": "ff",
        "dh_generator": 2,
        "realm": "test_realm",
        "encryption_key_file": "enc.pem",
        "signature_key_file": "sig.pem",
    }
    data.update(over)
    p = tmp_path / "oauth.json"
    p.write_text(json.dumps(data))
    p.chmod(0o600)
    return p


def test_loads_and_masks(tmp_path: Path) -> None:
    creds = load_credentials_file(_write(tmp_path))
    assert creds.dh_prime == 255 and creds.realm == "test_realm"
    assert "tok" not in repr(creds) and "c2VjcmV0" not in repr(creds)


def test_missing_field_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="access_token_secret"):
        load_credentials_file(_write(tmp_path, access_token_secret=None))


def test_wide_permissions_refused(tmp_path: Path) -> None:
    p = _write(tmp_path)
    p.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_credentials_file(p)


def test_tilde_is_expanded_in_the_file_and_key_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    _write(tmp_path, encryption_key_file="~/enc.pem")
    creds = load_credentials_file("~/oauth.json")
    assert creds.consumer_key == "TESTCONS"


@pytest.mark.parametrize("key", ["ABCDEFGH", "ABCDEFGHIJ", "abcdefghi", "ABCD3FGHI", "TESTCONS1"])
def test_a_consumer_key_not_nine_letters_is_refused_naming_field_and_file(tmp_path: Path, key: str) -> None:
    path = _write(tmp_path, consumer_key=key)
    with pytest.raises(ConfigError) as info:
        load_credentials_file(path)
    assert info.value.key == "oauth_credentials.consumer_key"
    assert str(path) in str(info.value) and "nine letters" in str(info.value)


def test_nine_letters_and_the_test_consumer_are_accepted(tmp_path: Path) -> None:
    assert load_credentials_file(_write(tmp_path, consumer_key="ABCDEFGHI")).consumer_key == "ABCDEFGHI"
    assert load_credentials_file(_write(tmp_path, consumer_key="TESTCONS")).consumer_key == "TESTCONS"


def test_a_bad_consumer_key_in_config_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.oauth.credentials import credentials_from_config

    config = IBKRConfig(mode="oauth", oauth_credentials=str(_write(tmp_path)), oauth_consumer_key="short")
    with pytest.raises(ConfigError) as info:
        credentials_from_config(config)
    assert info.value.key == "oauth_consumer_key" and "AXION_IBKR_OAUTH_CONSUMER_KEY" in str(info.value)


_PRIME = int("c4" + "5b" * 30 + "a7", 16)
_BYTES = ":".join(f"{b:02x}" for b in b"\0" + _PRIME.to_bytes(32, "big"))
# openssl ends each line of the listing but the last with ":"
_LINES = "\n".join("            " + _BYTES[i : i + 45] for i in range(0, len(_BYTES), 45))


@pytest.mark.parametrize(
    "text",
    [
        f"{_PRIME:x}",  # openssl asn1parse's one line
        f"0x{_PRIME:X}",
        _BYTES,  # colon-separated, one line
        # `openssl dhparam -text` (1.1: prime/generator; 3.x: P/G, then the PEM block)
        f"    DH Parameters: (256 bit)\n        prime:\n{_LINES}\n        generator: 2 (0x2)\n",
        f"DH Parameters: (256 bit)\n    P:   \n{_LINES}\n    G:    2 (0x2)\n"
        "    recommended-private-length: 224 bits\n"
        "-----BEGIN DH PARAMETERS-----\nMCYC\n-----END DH PARAMETERS-----",
    ],
)
def test_dh_prime_in_hex_or_openssls_colon_form(tmp_path: Path, text: str) -> None:
    assert load_credentials_file(_write(tmp_path, dh_prime=text)).dh_prime == _PRIME


@pytest.mark.parametrize("text", ["not hex", "ff:g0:12", "prime:\n  zz:zz"])
def test_dh_prime_neither_form_is_refused_naming_the_field(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_credentials_file(_write(tmp_path, dh_prime=text))
    assert info.value.key == "oauth_credentials.dh_prime" and "colon-separated" in str(info.value)
