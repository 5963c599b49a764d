"""Loading and validating an IBKR OAuth 1.0a credentials file (JSON + two PEM keys beside it)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from axion_broker_ibkr.errors import ConfigError

_REQUIRED = (
    "consumer_key",
    "access_token",
    "access_token_secret",
    "dh_prime",
    "realm",
    "encryption_key_file",
    "signature_key_file",
)


@attrs.frozen(repr=False)
class OAuthCredentials:
    consumer_key: str
    access_token: str
    access_token_secret: str
    dh_prime: int
    dh_generator: int
    realm: str
    encryption_key: rsa.RSAPrivateKey
    signature_key: rsa.RSAPrivateKey

    def __repr__(self) -> str:  # secrets never printed
        return f"OAuthCredentials(consumer_key={self.consumer_key!r}, realm={self.realm!r}, secrets=***)"


def _check_private(path: Path, key: str) -> None:
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(key, f"{path} is readable by group/others; chmod 600 it")


def _load_key(path: Path, key: str) -> rsa.RSAPrivateKey:
    if not path.is_file():
        raise ConfigError(key, f"file not found: {path}")
    _check_private(path, key)
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise ConfigError(key, f"{path} is not a PEM private key") from exc
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ConfigError(key, f"{path} is not an RSA private key")
    return loaded


def load_credentials_file(path: str | os.PathLike[str]) -> OAuthCredentials:
    """Read ``oauth_credentials``; key file paths are relative to the JSON file."""
    p = Path(path)
    where = "oauth_credentials"
    if not p.is_file():
        raise ConfigError(where, f"file not found: {p}")
    _check_private(p, where)
    try:
        data = json.loads(p.read_text())
    except ValueError as exc:
        raise ConfigError(where, f"{p} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ConfigError(where, f"{p} must hold a JSON object")
    for name in _REQUIRED:
        if not isinstance(data.get(name), str) or not data[name]:
            raise ConfigError(f"{where}.{name}", f"missing or not a string in {p}")
    try:
        prime = int(data["dh_prime"], 16)
    except ValueError as exc:
        raise ConfigError(f"{where}.dh_prime", f"not hex in {p}") from exc
    gen = data.get("dh_generator", 2)
    if not isinstance(gen, int) or isinstance(gen, bool) or gen < 2:
        raise ConfigError(f"{where}.dh_generator", f"must be an integer >= 2 in {p}")
    base = p.parent
    return OAuthCredentials(
        consumer_key=data["consumer_key"],
        access_token=data["access_token"],
        access_token_secret=data["access_token_secret"],
        dh_prime=prime,
        dh_generator=gen,
        realm=data["realm"],
        encryption_key=_load_key(base / data["encryption_key_file"], f"{where}.encryption_key_file"),
        signature_key=_load_key(base / data["signature_key_file"], f"{where}.signature_key_file"),
    )
