"""TLS towards the Client Portal Gateway: CA verification, certificate pinning, trust on first use.

The real gateway serves a self-signed certificate on ``localhost``. ``ssl_verify`` (HOST_CONTRACT §6):

* ``True`` (default): the system trust store. Against the stock gateway this fails; the error then
  names the presented certificate's SHA-256 and the setting that pins it
  (``AXION_IBKR_SSL_VERIFY=sha256:<hex>``, loopback only).
* a path: that CA bundle.
* ``"sha256:<hex>"`` (loopback only): the certificate is fetched, its fingerprint compared, then
  exactly that certificate is trusted.
* ``False`` (loopback only): trust on first use. The certificate presented at connect is pinned
  for the life of the client (a different one later is refused) and a warning names its
  fingerprint, recommending an explicit pin.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from typing import TYPE_CHECKING

from attrs import define

from ..config import is_loopback
from ..errors import GatewayUnavailableError, UntrustedCertificateError

if TYPE_CHECKING:
    from ..config import IBKRConfig

log = logging.getLogger("axion_broker_ibkr.client")

#: The environment variable a trader sets to pin the gateway's certificate.
PIN_SETTING = "AXION_IBKR_SSL_VERIFY"
#: Every certificate error message starts with this (the dashboard's headline keys on it).
UNTRUSTED = "certificate not trusted"
#: The command that trusts a gateway's certificate explicitly (saves its pin in the user config).
TRUST_COMMAND = "axion-ibkr trust"


@define(frozen=True)
class Trust:
    """The SSLContext for one gateway, and the fingerprint it is pinned to (pin or first use)."""

    context: ssl.SSLContext
    fingerprint: str | None = None
    first_use: bool = False


def context_trusting(pem: str) -> ssl.SSLContext:
    """An SSLContext whose only trust anchor is this certificate (hostname not checked: the
    certificate itself is the identity). Used for a pinned gateway and for the simulator."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    ctx.load_verify_locations(cadata=pem)
    return ctx


def fingerprint_of(pem: str) -> str:
    """SHA-256 (lower-case hex) of the DER form of a PEM certificate."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def fetch_certificate(host: str, port: int, timeout: float) -> str:
    """The PEM certificate ``host:port`` presents (no verification: it is only looked at)."""
    try:
        return ssl.get_server_certificate((host.strip("[]"), port), timeout=timeout)
    except OSError as exc:
        raise GatewayUnavailableError(
            f"cannot reach the gateway at {host}:{port} to read its certificate: {exc}"
        ) from exc


def pin_advice(host: str, fingerprint: str | None, port: int = 5000) -> str:
    """The exact setting that trusts this certificate (a pin on loopback, a CA bundle elsewhere)."""
    if fingerprint is None:
        return "its certificate could not be read; check that the gateway is running"
    if is_loopback(host):
        return (
            f"if this is your Client Portal Gateway, trust it: `{TRUST_COMMAND} --host {host} --port {port}` "
            f"(saves the pin in your config file), or pin its certificate: "
            f"{PIN_SETTING}=sha256:{fingerprint} "
            f'(host config: ssl_verify: "sha256:{fingerprint}"; pins are for a loopback gateway only)'
        )
    return (
        "pinning is only allowed for a loopback gateway; give the path of a CA bundle that signs this "
        "certificate (ssl_verify=/path/to/ca.pem)"
    )


def pinned_context(host: str, port: int, fingerprint: str, timeout: float) -> ssl.SSLContext:
    """Fetch the gateway's certificate, compare its SHA-256 to the pin, then trust exactly it."""
    pem = fetch_certificate(host, port, timeout)
    got = fingerprint_of(pem)
    if got != fingerprint:
        raise UntrustedCertificateError(
            f"{UNTRUSTED}: {host}:{port} presented sha256:{got}, not the pinned sha256:{fingerprint}; "
            "refusing to connect (a different gateway, or a new certificate: if you trust it, re-pin it "
            f"with `{TRUST_COMMAND} --host {host} --port {port}` (saves the new pin in your config file) "
            f"or {PIN_SETTING}=sha256:{got})",
            fingerprint=got,
        )
    return context_trusting(pem)


def first_use_context(host: str, port: int, timeout: float) -> Trust:
    """``ssl_verify=False`` (loopback only): trust the certificate presented now, for the life of
    the client, and say which one it was."""
    pem = fetch_certificate(host, port, timeout)
    got = fingerprint_of(pem)
    log.warning(
        "ssl_verify=false: trusting the certificate %s:%d presents now (sha256:%s) for the life of this "
        "client (trust on first use); a different certificate later is refused. Pin it explicitly: "
        "%s=sha256:%s",
        host, port, got, PIN_SETTING, got,
    )  # fmt: skip
    return Trust(context_trusting(pem), got, first_use=True)


def config_trust(config: IBKRConfig, host: str, port: int) -> Trust:
    """The trust the configuration asks for, towards ``host:port``."""
    pin = config.pinned_fingerprint
    if pin is not None:
        return Trust(pinned_context(host, port, pin, config.connect_timeout), pin)
    verify = config.ssl_verify
    if verify is False:
        return first_use_context(host, port, config.connect_timeout)
    if isinstance(verify, str):
        return Trust(ssl.create_default_context(cafile=verify))
    return Trust(ssl.create_default_context())


def config_ssl_context(config: IBKRConfig, host: str, port: int) -> ssl.SSLContext:
    return config_trust(config, host, port).context


def certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification error behind ``exc`` (httpx wraps it twice), if that is what it is."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def untrusted_error(
    host: str, port: int, failure: ssl.SSLCertVerificationError, *, timeout: float, trusted: str | None
) -> UntrustedCertificateError:
    """The error for a failed verification: the presented certificate's fingerprint (fetched now)
    and the setting that trusts it. ``trusted``: the fingerprint this client is pinned to."""
    try:
        got: str | None = fingerprint_of(fetch_certificate(host, port, timeout))
    except GatewayUnavailableError:
        got = None
    shown = f"sha256:{got}" if got else "an unreadable certificate"
    if trusted is not None:
        return UntrustedCertificateError(
            f"{UNTRUSTED}: {host}:{port} now presents {shown}, not the certificate this client trusts "
            f"(sha256:{trusted}); refusing to connect (a different gateway, or a new certificate: "
            f"{pin_advice(host, got, port)})",
            fingerprint=got,
        )
    reason = failure.verify_message or failure.reason or str(failure)
    return UntrustedCertificateError(
        f"{UNTRUSTED}: the gateway at {host}:{port} presented a certificate that cannot be verified "
        f"({reason}); its SHA-256 fingerprint is {shown}. {pin_advice(host, got, port)}",
        fingerprint=got,
    )


def trust_gateway(host: str, port: int, timeout: float = 5.0) -> str:
    """Trust the gateway at ``host:port`` explicitly (as SSH's known hosts): fetch the certificate
    it presents now and save its pin for that host:port in the user config file
    (:func:`~axion_broker_ibkr.userconfig.save_gateway_pin`). Returns the fingerprint
    (``sha256:<hex>``). A pin is only accepted for a loopback gateway."""
    from ..errors import ConfigError
    from ..userconfig import save_gateway_pin

    if not is_loopback(host):
        raise ConfigError(
            "gateway_host",
            f"{host!r} is not a loopback address; a certificate pin is only allowed for a loopback "
            "gateway (give ssl_verify the path of a CA bundle instead)",
        )
    fingerprint = "sha256:" + fingerprint_of(fetch_certificate(host, port, timeout))
    save_gateway_pin(host, port, fingerprint)
    log.warning("trusting the gateway at %s:%d: certificate %s saved", host, port, fingerprint)
    return fingerprint
