"""Loading and validating an IBKR OAuth 1.0a credentials file (JSON + two PEM keys beside it)."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from axion_broker_ibkr.errors import ConfigError

if TYPE_CHECKING:
    from axion_broker_ibkr.config import IBKRConfig

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


#: IBKR's consumer keys are nine letters A-Z (chosen on the self-service portal); ``TESTCONS``
#: (eight) is IBKR's own published test consumer and is accepted as it is.
_CONSUMER_KEY = re.compile(r"[A-Z]{9}|TESTCONS")


def _consumer_key(value: str, key: str, where: str) -> str:
    """The consumer key, checked before anything is sent to IBKR (a wrong one only shows up there
    as a bare ``invalid consumer``)."""
    if not _CONSUMER_KEY.fullmatch(value):
        raise ConfigError(
            key,
            f"{value!r} is not a consumer key ({where}): IBKR's are nine letters A-Z, e.g. ABCDEFGHI "
            "(the test consumer TESTCONS is accepted too)",
        )
    return value


def parse_dh_prime(text: str) -> int:
    """``dh_prime`` as one line of hex (``openssl asn1parse``'s form, optional ``0x``) or as the
    colon-separated listing of ``openssl dhparam -text`` (``00:c4:…``, over several lines, with or
    without the ``prime:`` / ``P:`` label and the ``generator`` line after it). ValueError if neither."""
    body = text.strip()
    label = re.search(r"^\s*(?:prime|P)\s*:", body, re.IGNORECASE | re.MULTILINE)
    if label:  # the listing: the hex lines under the label, up to the next labelled line
        lines: list[str] = []
        for line in body[label.end() :].splitlines():
            if lines and not re.fullmatch(r"[0-9A-Fa-f:\s]*", line):
                break
            lines.append(line)
        body = "".join(lines)
    body = "".join(body.split())
    if ":" in body:
        groups = body.strip(":").split(":")
        if not all(re.fullmatch(r"[0-9A-Fa-f]{2}", g) for g in groups):
            raise ValueError("not colon-separated hex bytes")
        body = "".join(groups)
    body = body.removeprefix("0x").removeprefix("0X")
    if not body or not re.fullmatch(r"[0-9A-Fa-f]+", body):
        raise ValueError("not hex")
    return int(body, 16)


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
    """Read ``oauth_credentials``; key file paths are relative to the JSON file (``~`` is expanded
    in both)."""
    p = Path(path).expanduser()
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
    _consumer_key(data["consumer_key"], f"{where}.consumer_key", f"in {p}")
    try:
        prime = parse_dh_prime(data["dh_prime"])
    except ValueError as exc:
        raise ConfigError(
            f"{where}.dh_prime", f"not hex (one line, or openssl's colon-separated form) in {p}"
        ) from exc
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
        encryption_key=_load_key(
            base / Path(data["encryption_key_file"]).expanduser(), f"{where}.encryption_key_file"
        ),
        signature_key=_load_key(
            base / Path(data["signature_key_file"]).expanduser(), f"{where}.signature_key_file"
        ),
    )


def _where(key: str) -> str:
    return f"config key {key} (or AXION_IBKR_{key.upper()})"


def credentials_from_config(config: IBKRConfig) -> OAuthCredentials:
    """The OAuth credentials an :class:`~axion_broker_ibkr.config.IBKRConfig` names: the
    ``oauth_credentials`` file, with any ``oauth_*`` key given one by one overriding it, or the
    ``oauth_*`` keys alone. Every missing or malformed value names the key and where it was read."""
    base: OAuthCredentials | None = None
    if config.oauth_credentials:
        base = load_credentials_file(config.oauth_credentials)
    elif not config.oauth_consumer_key:
        raise ConfigError(
            "oauth_credentials",
            "mode 'oauth' needs OAuth credentials: set oauth_credentials (AXION_IBKR_OAUTH_CREDENTIALS) "
            "to the credentials JSON file, or the oauth_* keys one by one",
        )

    def text(key: str, current: str | None) -> str:
        value: str | None = getattr(config, key)
        if value:
            return value
        if current is not None:
            return current
        raise ConfigError(key, f"missing: set {_where(key)} or put it in the oauth_credentials file")

    def key_file(key: str, current: rsa.RSAPrivateKey | None) -> rsa.RSAPrivateKey:
        path: str | None = getattr(config, key)
        if path:
            return _load_key(Path(path).expanduser(), key)
        if current is not None:
            return current
        raise ConfigError(key, f"missing: set {_where(key)} to the PEM file")

    prime_text = config.oauth_dh_prime
    if prime_text:
        try:
            prime = parse_dh_prime(prime_text)
        except ValueError as exc:
            raise ConfigError(
                "oauth_dh_prime",
                f"not hex, one line or openssl's colon-separated form ({_where('oauth_dh_prime')})",
            ) from exc
    elif base is not None:
        prime = base.dh_prime
    else:
        raise ConfigError("oauth_dh_prime", f"missing: set {_where('oauth_dh_prime')} (hex)")
    generator = config.oauth_dh_generator or (base.dh_generator if base is not None else 2)
    if generator < 2:
        raise ConfigError("oauth_dh_generator", "must be an integer >= 2")
    consumer = text("oauth_consumer_key", base.consumer_key if base else None)
    _consumer_key(
        consumer,
        "oauth_consumer_key",
        _where("oauth_consumer_key") if config.oauth_consumer_key else f"in {config.oauth_credentials}",
    )
    secret = text("oauth_access_token_secret", base.access_token_secret if base else None)
    try:
        base64.b64decode(secret, validate=True)
    except ValueError as exc:
        raise ConfigError(
            "oauth_access_token_secret", "is not base64 (copy it again from IBKR's page)"
        ) from exc
    return OAuthCredentials(
        consumer_key=consumer,
        access_token=text("oauth_access_token", base.access_token if base else None),
        access_token_secret=secret,
        dh_prime=prime,
        dh_generator=generator,
        realm=config.oauth_realm or (base.realm if base else "limited_poa"),
        encryption_key=key_file("oauth_encryption_key_file", base.encryption_key if base else None),
        signature_key=key_file("oauth_signature_key_file", base.signature_key if base else None),
    )
