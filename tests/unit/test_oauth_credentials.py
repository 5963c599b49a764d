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
