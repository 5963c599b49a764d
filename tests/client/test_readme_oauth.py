"""The README's OAuth instructions work as written: the command it gives for ``dh_prime`` prints hex
the credentials loader reads back as the prime of ``dhparam.pem``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from axion_broker_ibkr.oauth.credentials import load_credentials_file

README = Path(__file__).resolve().parents[2] / "README.md"


#: RFC 3526 group 14 (2048-bit MODP), as ``openssl dhparam`` would write a prime of that size.
MODP_2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)


def _der_int(n: int) -> bytes:
    body = n.to_bytes(n.bit_length() // 8 + 1, "big")  # a leading zero keeps it positive
    return b"\x02" + _der_len(len(body)) + body


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _dhparam_pem(prime: int, generator: int) -> str:
    """PKCS#3 DHParameter (SEQUENCE of prime and generator) in PEM, as ``openssl dhparam`` writes."""
    import base64
    import textwrap

    body = _der_int(prime) + _der_int(generator)
    der = b"\x30" + _der_len(len(body)) + body
    lines = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN DH PARAMETERS-----\n{lines}\n-----END DH PARAMETERS-----\n"


def _readme_prime_command() -> str:
    text = README.read_text()
    match = re.search(r"`(openssl asn1parse -in dhparam\.pem [^`]+)`", text)
    assert match, "the README no longer says how to print dh_prime"
    return match.group(1)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_the_readme_dh_prime_command_gives_what_the_loader_reads(tmp_path: Path) -> None:
    (tmp_path / "dhparam.pem").write_text(_dhparam_pem(MODP_2048, 2))
    printed = subprocess.run(
        _readme_prime_command(), shell=True, cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    for name in ("private_encryption.pem", "private_signature.pem"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (tmp_path / name).write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        (tmp_path / name).chmod(0o600)
    creds = tmp_path / "oauth.json"
    creds.write_text(
        json.dumps(
            {
                "consumer_key": "ABCDEFGHI",
                "access_token": "token",
                "access_token_secret": "c2VjcmV0",
                "dh_prime": printed,
                "dh_generator": 2,
                "realm": "limited_poa",
                "encryption_key_file": "private_encryption.pem",
                "signature_key_file": "private_signature.pem",
            }
        )
    )
    creds.chmod(0o600)
    assert load_credentials_file(creds).dh_prime == MODP_2048
