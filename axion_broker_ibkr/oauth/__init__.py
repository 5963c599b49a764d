"""OAuth 1.0a primitives for IBKR's Web API (I/O-free; ``cryptography`` only).

Facts (IBKR OAuth 1.0a, first party): the live session token (LST) request is signed RSA-SHA256
over the base string prefixed with the "prepend" (hex of the decrypted access token secret);
K = B^a mod p; LST = base64(HMAC-SHA1(K, prepend)); valid when hex(HMAC-SHA1(LST, consumer_key))
equals ``live_session_token_signature``. Later requests are signed HMAC-SHA256 keyed by the LST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from urllib.parse import quote_plus, unquote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "authorization_header",
    "base_string",
    "decrypt_prepend",
    "dh_challenge",
    "hmac_sha256_signature",
    "int_to_java_bytes",
    "live_session_token",
    "live_session_token_request_header",
    "make_nonce",
    "make_timestamp",
    "parse_authorization_header",
    "rsa_sha256_signature",
    "sign_request",
    "unquote_signature",
    "validate_live_session_token",
]


def _q(value: str) -> str:
    # IBKR's OAuth 1.0a examples and ibind 0.2.2 (``generate_base_string``) percent-encode with
    # ``quote_plus`` (nothing safe, a space becomes ``+``).
    return quote_plus(value, safe="")


def make_nonce() -> str:
    return secrets.token_hex(16)


def make_timestamp(now: float | None = None) -> str:
    return str(int(time.time() if now is None else now))


def base_string(method: str, url: str, params: Mapping[str, str], prepend: str = "") -> str:
    """OAuth base string: METHOD&enc(url)&enc(sorted k=v joined by &), with an optional prepend."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return f"{prepend}{method.upper()}&{_q(url)}&{_q(joined)}"


def decrypt_prepend(encryption_key: rsa.RSAPrivateKey, access_token_secret_b64: str) -> str:
    """Decrypt the access token secret (RSA PKCS#1 v1.5); its hex is the prepend."""
    raw = encryption_key.decrypt(base64.b64decode(access_token_secret_b64), padding.PKCS1v15())
    return raw.hex()


def rsa_sha256_signature(signature_key: rsa.RSAPrivateKey, text: str) -> str:
    """URL-encoded base64 RSA-SHA256 (PKCS#1 v1.5) signature of ``text``."""
    sig = signature_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return _q(base64.b64encode(sig).decode())


def hmac_sha256_signature(lst_b64: str, text: str) -> str:
    """URL-encoded base64 HMAC-SHA256 of ``text`` keyed with the decoded live session token."""
    mac = hmac.new(base64.b64decode(lst_b64), text.encode(), hashlib.sha256).digest()
    return _q(base64.b64encode(mac).decode())


def dh_challenge(prime: int, generator: int = 2) -> tuple[int, str]:
    """A random secret ``a`` and the challenge A = g^a mod p in hex."""
    a = secrets.randbits(256)
    return a, format(pow(generator, a, prime), "x")


def int_to_java_bytes(value: int) -> bytes:
    """Big-endian two's-complement bytes as Java's BigInteger.toByteArray (leading 0 when needed)."""
    length = value.bit_length() // 8 + 1
    return value.to_bytes(length, "big")


def live_session_token(dh_response_hex: str, a: int, prime: int, prepend: str) -> str:
    k = pow(int(dh_response_hex, 16), a, prime)
    mac = hmac.new(int_to_java_bytes(k), bytes.fromhex(prepend), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def validate_live_session_token(lst_b64: str, signature_hex: str, consumer_key: str) -> bool:
    mac = hmac.new(base64.b64decode(lst_b64), consumer_key.encode(), hashlib.sha1).hexdigest()
    return hmac.compare_digest(mac, signature_hex.lower())


def authorization_header(params: Mapping[str, str], realm: str) -> str:
    """``OAuth realm="...", k="v", ...`` (params already carry ``oauth_signature``)."""
    body = ", ".join(f'{k}="{params[k]}"' for k in sorted(params))
    return f'OAuth realm="{realm}", {body}'


def sign_request(
    method: str,
    url: str,
    *,
    consumer_key: str,
    access_token: str,
    lst_b64: str,
    realm: str,
    query: Mapping[str, str] | None = None,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> str:
    """Authorization header for a Web API request signed HMAC-SHA256 with the live session token.

    Query parameters join the signed parameter set (OAuth 1.0a); ``url`` is without the query.
    """
    params = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or make_nonce(),
        "oauth_signature_method": "HMAC-SHA256",
        "oauth_timestamp": timestamp or make_timestamp(),
        "oauth_token": access_token,
    }
    signed = {**params, **dict(query or {})}
    params["oauth_signature"] = hmac_sha256_signature(lst_b64, base_string(method, url, signed))
    return authorization_header(params, realm)


def live_session_token_request_header(
    url: str,
    *,
    consumer_key: str,
    access_token: str,
    realm: str,
    challenge_hex: str,
    prepend: str,
    signature_key: rsa.RSAPrivateKey,
    nonce: str | None = None,
    timestamp: str | None = None,
) -> str:
    """Authorization header of ``POST /oauth/live_session_token`` (first party).

    The Diffie-Hellman challenge travels as the OAuth parameter ``diffie_hellman_challenge`` (signed
    with the rest, IBKR's OAuth 1.0a documentation and ibind 0.2.2 alike); the base string is
    prefixed with the prepend and signed RSA-SHA256 with the private signature key.
    """
    params = {
        "diffie_hellman_challenge": challenge_hex,
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or make_nonce(),
        "oauth_signature_method": "RSA-SHA256",
        "oauth_timestamp": timestamp or make_timestamp(),
        "oauth_token": access_token,
    }
    text = base_string("POST", url, params, prepend=prepend)
    params["oauth_signature"] = rsa_sha256_signature(signature_key, text)
    return authorization_header(params, realm)


def parse_authorization_header(value: str) -> dict[str, str]:
    """``OAuth realm="r", k="v", ...`` -> ``{"realm": "r", "k": "v", ...}`` (values as sent).

    Raises ``ValueError`` when the header is not an OAuth header.
    """
    text = value.strip()
    if not text[:6].lower() == "oauth ":
        raise ValueError("not an OAuth Authorization header")
    out: dict[str, str] = {}
    for part in text[6:].split(","):
        item = part.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"malformed OAuth parameter {key!r}")
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1]
        out[key.strip()] = raw
    return out


def unquote_signature(value: str) -> str:
    """An ``oauth_signature`` as sent (percent-encoded base64) -> the base64 text."""
    return unquote(value)
