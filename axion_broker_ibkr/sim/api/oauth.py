"""The simulator as IBKR's OAuth 1.0a server (first party).

It issues one first-party credential set (consumer key, access token, the access token secret
encrypted with the user's public encryption key, the Diffie-Hellman prime and generator, and the
two private keys the user would have generated), keeps only the public halves of the keys, serves
``POST /v1/api/oauth/live_session_token`` and then checks every ``/v1/api`` request's
``Authorization`` header (HMAC-SHA256 with a live session token it issued).

Facts implemented (IBKR "OAuth 1.0a Extended" documentation; ibind 0.2.2 ``oauth1a.py`` agrees):
the base string is ``METHOD&quote_plus(url)&quote_plus(sorted k=v joined by &)`` over the OAuth
parameters (and the query parameters), the live-session-token request carries
``diffie_hellman_challenge`` among the OAuth parameters, is signed RSA-SHA256 over the base string
prefixed with the prepend (hex of the decrypted access token secret), and is answered with
``diffie_hellman_response``, ``live_session_token_signature`` (hex HMAC-SHA1 of the consumer key
keyed with the token) and ``live_session_token_expiration`` (epoch milliseconds).

Error bodies follow the one wording seen from IBKR (``{"error": "id: 39687, error: invalid
consumer", "statusCode": 401}``, reported in nsirons/ibkr_web_client#4 and #5 and on Stack Overflow
question 75012086); the other reasons ("invalid signature", "invalid timestamp", "nonce already
used", "invalid token", "token expired") use the same form, their exact text is [unconfirmed].
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import string
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ...errors import ConfigError, OAuthRefused
from ...oauth import base_string, int_to_java_bytes, parse_authorization_header, unquote_signature
from ..engine.clock import SimClock

#: RFC 3526 group 14 (2048-bit MODP), generator 2: a real Diffie-Hellman prime without the minutes
#: ``openssl dhparam 2048`` takes (IBKR accepts any 2048-bit prime the user uploads).
RFC3526_PRIME_2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
#: IBKR's live session token lives about 24 hours.
DEFAULT_TOKEN_LIFETIME_S = 24 * 3600.0
#: How far a request's ``oauth_timestamp`` may be from the server's clock (OAuth servers commonly
#: allow a few minutes; IBKR's exact window is [unconfirmed]).
DEFAULT_TIMESTAMP_SKEW_S = 300.0
LST_PATH = "/oauth/live_session_token"
CREDENTIALS_FILE = "oauth.json"
ENCRYPTION_KEY_FILE = "private_encryption.pem"
SIGNATURE_KEY_FILE = "private_signature.pem"
CA_FILE = "ca.pem"
#: The mark the simulator puts in the ``oauth.json`` it writes: only a set so marked is overwritten
#: without ``force`` (a real credential set, private keys included, is never silently replaced).
WRITTEN_BY_KEY = "written_by"
WRITTEN_BY = "axion-ibkr sim"


def check_credentials_dir(directory: Path) -> None:
    """Raise :class:`ConfigError` (``oauth_dir``) when ``directory`` holds any file of a credential
    set (``oauth.json``, the two private keys, ``ca.pem``) that the simulator did not write, i.e.
    when there is no ``oauth.json`` carrying the simulator's mark beside them."""
    names = (CREDENTIALS_FILE, ENCRYPTION_KEY_FILE, SIGNATURE_KEY_FILE, CA_FILE)
    present = [name for name in names if (directory / name).exists()]
    if not present:
        return
    try:
        marked = json.loads((directory / CREDENTIALS_FILE).read_text()).get(WRITTEN_BY_KEY) == WRITTEN_BY
    except (OSError, ValueError, AttributeError):
        marked = False
    if not marked:
        raise ConfigError(
            "oauth_dir",
            f"{directory} already holds {', '.join(present)} not written by the simulator; refusing to "
            "overwrite a credential set (choose an empty directory, or pass --force)",
        )


def refusal_body(refused: OAuthRefused) -> dict[str, Any]:
    """IBKR's error body for a request the OAuth layer refuses."""
    return {
        "error": f"id: {secrets.randbelow(90000) + 10000}, error: {refused.reason}",
        "statusCode": refused.status,
    }


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # what ``openssl genrsa`` writes (PKCS#1)
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


class SimOAuth:
    """One registered first-party consumer and the live session tokens issued to it."""

    def __init__(
        self,
        clock: SimClock,
        *,
        consumer_key: str | None = None,
        realm: str = "limited_poa",
        token_lifetime: float = DEFAULT_TOKEN_LIFETIME_S,
        timestamp_skew: float = DEFAULT_TIMESTAMP_SKEW_S,
    ) -> None:
        self.clock = clock
        self.consumer_key = consumer_key or "".join(secrets.choice(string.ascii_uppercase) for _ in range(9))
        self.realm = realm
        self.token_lifetime = token_lifetime
        self.timestamp_skew = timestamp_skew
        self.access_token = secrets.token_hex(10)
        self.dh_prime = RFC3526_PRIME_2048
        self.dh_generator = 2
        # The user's keys: the simulator writes the private halves out (write_credentials) and
        # checks with the public halves, as IBKR does with what the self-service portal received.
        self._encryption_private = rsa.generate_private_key(65537, 2048)
        self._signature_private = rsa.generate_private_key(65537, 2048)
        self.signature_public = self._signature_private.public_key()
        self._secret = secrets.token_bytes(32)
        self.access_token_secret = base64.b64encode(
            self._encryption_private.public_key().encrypt(self._secret, padding.PKCS1v15())
        ).decode()
        self._lock = threading.Lock()
        self._tokens: dict[bytes, float] = {}  # token bytes -> expiry (simulated epoch seconds)
        self._nonces: dict[str, float] = {}  # nonce -> simulated time seen
        self.issued = 0

    @property
    def prepend(self) -> str:
        return self._secret.hex()

    # -- the credential set ------------------------------------------------------------------

    def write_credentials(self, directory: Path, ca_cert: Path | None, *, force: bool = False) -> Path:
        """``oauth.json`` + the two private keys (0600) + ``ca.pem``; returns the JSON's path. Refuses
        (:class:`ConfigError`, nothing written) when ``directory`` holds a set the simulator did not
        write, unless ``force``."""
        if not force:
            check_credentials_dir(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _write_private(directory / ENCRYPTION_KEY_FILE, _private_pem(self._encryption_private))
        _write_private(directory / SIGNATURE_KEY_FILE, _private_pem(self._signature_private))
        data = {
            "consumer_key": self.consumer_key,
            "access_token": self.access_token,
            "access_token_secret": self.access_token_secret,
            "dh_prime": format(self.dh_prime, "x"),
            "dh_generator": self.dh_generator,
            "realm": self.realm,
            "encryption_key_file": ENCRYPTION_KEY_FILE,
            "signature_key_file": SIGNATURE_KEY_FILE,
            WRITTEN_BY_KEY: WRITTEN_BY,
        }
        path = directory / CREDENTIALS_FILE
        _write_private(path, (json.dumps(data, indent=2) + "\n").encode())
        if ca_cert is not None:
            shutil.copyfile(ca_cert, directory / CA_FILE)
        return path

    # -- checks ------------------------------------------------------------------------------

    def _params(self, authorization: str | None) -> dict[str, str]:
        if not authorization:
            raise OAuthRefused("missing Authorization header")
        try:
            params = parse_authorization_header(authorization)
        except ValueError as exc:
            raise OAuthRefused(f"malformed Authorization header ({exc})") from exc
        for name in ("oauth_consumer_key", "oauth_signature", "oauth_signature_method", "oauth_timestamp"):
            if name not in params:
                raise OAuthRefused(f"missing {name}")
        if params["oauth_consumer_key"] != self.consumer_key:
            raise OAuthRefused("invalid consumer")
        if params.get("oauth_token") != self.access_token:
            raise OAuthRefused("invalid token")
        if params.get("realm", self.realm) != self.realm:
            raise OAuthRefused("invalid realm")
        try:
            stamp = int(params["oauth_timestamp"])
        except ValueError as exc:
            raise OAuthRefused("invalid timestamp") from exc
        # Measured against the simulator's clock (IBKR's): after /sim/advance_clock a client that
        # signs with its own clock is refused until it reads the server's time from ``Date``.
        if abs(self.clock.now() - stamp) > self.timestamp_skew:
            raise OAuthRefused("invalid timestamp")
        return params

    def _use_nonce(self, nonce: str | None) -> None:
        if not nonce:
            raise OAuthRefused("missing oauth_nonce")
        now = self.clock.now()
        with self._lock:
            for old in [n for n, t in self._nonces.items() if now - t > 2 * self.timestamp_skew]:
                del self._nonces[old]
            if nonce in self._nonces:
                raise OAuthRefused("nonce already used")
            self._nonces[nonce] = now

    @staticmethod
    def _base_strings(
        method: str, urls: list[str], params: Mapping[str, str], query: str, prepend: str = ""
    ) -> list[str]:
        """Every base string a correct client may have signed.

        IBKR's documentation puts the query parameters into the signed set (OAuth 1.0a); ibind
        0.2.2 signs without them and works against IBKR, so both readings are accepted.
        """
        signed = {k: v for k, v in params.items() if k not in {"oauth_signature", "realm"}}
        with_query = {**signed, **dict(parse_qsl(query, keep_blank_values=True))}
        sets = [signed, with_query] if query else [signed]
        return [base_string(method, url, s, prepend=prepend) for url in urls for s in sets]

    def live_session_token(
        self, method: str, urls: list[str], authorization: str | None, query: str = ""
    ) -> dict[str, Any]:
        """Answer ``POST /oauth/live_session_token`` or raise :class:`OAuthRefused`."""
        params = self._params(authorization)
        if params["oauth_signature_method"] != "RSA-SHA256":
            raise OAuthRefused("invalid signature method: RSA-SHA256 required")
        challenge = params.get("diffie_hellman_challenge")
        if not challenge:
            raise OAuthRefused("missing diffie_hellman_challenge")
        try:
            a_pub = int(challenge, 16)
        except ValueError as exc:
            raise OAuthRefused("invalid diffie_hellman_challenge") from exc
        if not 1 < a_pub < self.dh_prime - 1:
            raise OAuthRefused("invalid diffie_hellman_challenge")
        try:
            signature = base64.b64decode(unquote_signature(params["oauth_signature"]), validate=True)
        except ValueError as exc:
            raise OAuthRefused("invalid signature") from exc
        for text in self._base_strings(method, urls, params, query, prepend=self.prepend):
            try:
                self.signature_public.verify(signature, text.encode(), padding.PKCS1v15(), hashes.SHA256())
                break
            except InvalidSignature:
                continue
        else:
            raise OAuthRefused("invalid signature")
        self._use_nonce(params.get("oauth_nonce"))
        b = secrets.randbits(256)
        b_pub = pow(self.dh_generator, b, self.dh_prime)
        k = pow(a_pub, b, self.dh_prime)
        token = hmac.new(int_to_java_bytes(k), self._secret, hashlib.sha1).digest()
        expires = self.clock.now() + self.token_lifetime
        with self._lock:
            now = self.clock.now()
            for old in [t for t, e in self._tokens.items() if e < now - self.token_lifetime]:
                del self._tokens[old]
            self._tokens[token] = expires
            self.issued += 1
        return {
            "diffie_hellman_response": format(b_pub, "x"),
            "live_session_token_signature": hmac.new(
                token, self.consumer_key.encode(), hashlib.sha1
            ).hexdigest(),
            "live_session_token_expiration": int(expires * 1000),
        }

    def check(self, method: str, urls: list[str], authorization: str | None, query: str = "") -> None:
        """A ``/v1/api`` request signed HMAC-SHA256 with a live session token, else OAuthRefused."""
        params = self._params(authorization)
        if params["oauth_signature_method"] != "HMAC-SHA256":
            raise OAuthRefused("invalid signature method: HMAC-SHA256 required")
        try:
            signature = base64.b64decode(unquote_signature(params["oauth_signature"]), validate=True)
        except ValueError as exc:
            raise OAuthRefused("invalid signature") from exc
        texts = [t.encode() for t in self._base_strings(method, urls, params, query)]
        with self._lock:
            tokens = list(self._tokens.items())
        matched: float | None = None
        for token, expires in tokens:
            for text in texts:
                if hmac.compare_digest(hmac.new(token, text, hashlib.sha256).digest(), signature):
                    matched = max(expires, matched or expires)
        if matched is None:
            raise OAuthRefused("invalid signature")
        if matched <= self.clock.now():
            raise OAuthRefused("token expired")
        self._use_nonce(params.get("oauth_nonce"))

    def state(self) -> dict[str, Any]:
        now = self.clock.now()
        with self._lock:
            live = [e for e in self._tokens.values() if e > now]
        return {
            "consumer_key": self.consumer_key,
            "tokens_issued": self.issued,
            "live_tokens": len(live),
            "token_expires_at": max(live) if live else None,
        }
