import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from axion_broker_ibkr import oauth

P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD", 16
)


def test_dh_live_session_token_roundtrip() -> None:
    enc = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    secret = b"\x01\x02secret-bytes"
    ct = enc.public_key().encrypt(secret, padding.PKCS1v15())
    prepend = oauth.decrypt_prepend(enc, base64.b64encode(ct).decode())
    assert prepend == secret.hex()
    a, challenge = oauth.dh_challenge(P)
    b, b_hex = oauth.dh_challenge(P)  # server side
    client_lst = oauth.live_session_token(b_hex, a, P, prepend)
    server_lst = oauth.live_session_token(challenge, b, P, prepend)
    assert client_lst == server_lst
    import hashlib
    import hmac

    sig = hmac.new(base64.b64decode(server_lst), b"TESTCONS", hashlib.sha1).hexdigest()
    assert oauth.validate_live_session_token(client_lst, sig, "TESTCONS")
    assert not oauth.validate_live_session_token(client_lst, "00" * 20, "TESTCONS")


def test_base_string_and_rsa_signature_verify() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bs = oauth.base_string(
        "post", "https://api.ibkr.com/v1/api/oauth/live_session_token", {"b": "2", "a": "1"}, "ab"
    )
    assert bs == "abPOST&https%3A%2F%2Fapi.ibkr.com%2Fv1%2Fapi%2Foauth%2Flive_session_token&a%3D1%26b%3D2"
    from urllib.parse import unquote

    sig = base64.b64decode(unquote(oauth.rsa_sha256_signature(key, bs)))
    key.public_key().verify(sig, bs.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_java_bytes_leading_zero() -> None:
    assert oauth.int_to_java_bytes(0x80) == b"\x00\x80"
    assert oauth.int_to_java_bytes(0x7F) == b"\x7f"


def test_sign_request_header_is_reproducible() -> None:
    lst = base64.b64encode(b"k" * 20).decode()
    kw = dict(
        consumer_key="TESTCONS", access_token="t", lst_b64=lst, realm="test_realm", nonce="n", timestamp="1"
    )
    h1 = oauth.sign_request("GET", "https://x/v1/api/tickle", **kw)  # type: ignore[arg-type]
    h2 = oauth.sign_request("GET", "https://x/v1/api/tickle", **kw)  # type: ignore[arg-type]
    assert h1 == h2 and h1.startswith('OAuth realm="test_realm", ') and 'oauth_signature="' in h1
    h3 = oauth.sign_request("POST", "https://x/v1/api/tickle", **kw)  # type: ignore[arg-type]
    assert h3 != h1
