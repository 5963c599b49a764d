"""``IBKRConfig``: every setting of the client, validated at construction.

Built from keyword arguments, from the host's config mapping (:meth:`IBKRConfig.from_mapping`,
HOST_CONTRACT §6) or from ``AXION_IBKR_*`` environment variables (:meth:`IBKRConfig.from_env`).
A bad value raises :class:`~axion_broker_ibkr.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from attrs import define, field, fields

from .errors import ConfigError

MODES: tuple[str, ...] = ("gateway", "sim", "auto", "oauth")
#: Modes the configuration already names but the client does not implement yet.
RESERVED_MODES: tuple[str, ...] = ()
#: IBKR's Web API for OAuth 1.0a users (no gateway).
DEFAULT_OAUTH_BASE_URL = "https://api.ibkr.com/v1/api"
#: The credentials that may be given one by one instead of in an ``oauth_credentials`` file.
OAUTH_KEYS: tuple[str, ...] = (
    "oauth_consumer_key",
    "oauth_access_token",
    "oauth_access_token_secret",
    "oauth_dh_prime",
    "oauth_dh_generator",
    "oauth_realm",
    "oauth_encryption_key_file",
    "oauth_signature_key_file",
)
COMPETING_POLICIES: tuple[str, ...] = ("wait", "take_over")
#: The one competing-session default (config, keep-alive and stream): leave the other platform's
#: session alone and report it; taking over logs the trader out of TWS / IBKR Mobile.
DEFAULT_COMPETING_POLICY = "wait"
#: Where the pacer keeps its budget: ``auto`` (the file store where the platform has file locks,
#: else ``memory``), ``memory`` (this process only), ``file`` (every process of this machine),
#: ``postgres`` (every process on every machine whose order log is that PostgreSQL database).
PACING_STORES = ("auto", "memory", "file", "postgres")
ENV_PREFIX = "AXION_IBKR_"
#: IBKR's documented ceiling for a Client Portal Gateway user: 10 requests per second (REFERENCE §7).
MAX_REQUESTS_PER_MINUTE = 600
#: IBKR's documented ceiling for direct (OAuth) access: 50 requests per second per user (REFERENCE §7).
MAX_OAUTH_REQUESTS_PER_MINUTE = 3000
_QUESTION_ID_RE = re.compile(r"^[op]\d+$")
_FINGERPRINT_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_fingerprint(value: str) -> str | None:
    """``"sha256:AB:CD..."`` -> lower-case hex without separators; ``None`` if not a pin."""
    if not value.lower().startswith("sha256:"):
        return None
    digest = value[7:].replace(":", "").lower()
    match = _FINGERPRINT_RE.match("sha256:" + digest)
    if match is None:
        raise ConfigError("ssl_verify", "a certificate pin must be 'sha256:' followed by 64 hex digits")
    return match.group(1)


# --------------------------------------------------------------------------------------------
# Coercion of text values (environment variables, host config given as strings)


def _to_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
    raise ConfigError(key, f"expected true/false, got {value!r}")


def _to_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ConfigError(key, f"expected an integer, got {value!r}")


def _to_float(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(key, f"expected a number, got {value!r}")


def _to_opt_float(key: str, value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _to_float(key, value)


def _to_opt_str(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        return text or None
    raise ConfigError(key, f"expected text, got {type(value).__name__}")


def _to_str(key: str, value: Any) -> str:
    text = _to_opt_str(key, value)
    if text is None:
        raise ConfigError(key, "must not be empty")
    return text


def _to_str_tuple(key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items: Iterable[Any] = value.split(",")
    elif isinstance(value, Iterable):
        items = value
    else:
        raise ConfigError(key, f"expected a list of ids, got {type(value).__name__}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(key, f"expected text ids, got {item!r}")
        text = item.strip().lower()
        if text:
            out.append(text)
    return tuple(dict.fromkeys(out))


def _to_ssl_verify(key: str, value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return _to_bool(key, text)
        if not text:
            raise ConfigError(key, "must not be empty")
        return text
    raise ConfigError(key, f"expected true/false, a CA bundle path or 'sha256:<hex>', got {value!r}")


def _question_ids(value: Any) -> tuple[str, ...]:
    return _to_str_tuple("auto_confirm", value)


# --------------------------------------------------------------------------------------------
# Validators


def _check_choice(choices: tuple[str, ...]) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, attribute: Any, value: Any) -> None:
        if value not in choices:
            raise ConfigError(attribute.name, f"must be one of {', '.join(choices)}; got {value!r}")

    return check


def _check_mode(_inst: Any, attribute: Any, value: Any) -> None:
    if value in RESERVED_MODES:
        raise ConfigError(attribute.name, f"mode {value!r} is reserved and not implemented yet")
    _check_choice(MODES)(_inst, attribute, value)


def _check_range(lo: float, hi: float) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, attribute: Any, value: Any) -> None:
        if not lo <= value <= hi:
            raise ConfigError(attribute.name, f"must be between {lo:g} and {hi:g}; got {value!r}")

    return check


def _check_positive(_inst: Any, attribute: Any, value: Any) -> None:
    if not value > 0:
        raise ConfigError(attribute.name, f"must be greater than 0; got {value!r}")


def _check_questions(_inst: Any, attribute: Any, value: tuple[str, ...]) -> None:
    bad = [v for v in value if not _QUESTION_ID_RE.match(v)]
    if bad:
        raise ConfigError(attribute.name, f"not IBKR question ids (o163, o354, p12 ...): {bad}")
    if len(value) > 51:
        raise ConfigError(attribute.name, "IBKR accepts at most 51 suppressed question ids")


def _check_base_path(_inst: Any, attribute: Any, value: str) -> None:
    if not value.startswith("/") or value.endswith("/") or "?" in value:
        raise ConfigError(
            attribute.name, f"must look like '/v1/api' (leading '/', no trailing '/'); got {value!r}"
        )


def _check_account(_inst: Any, attribute: Any, value: str | None) -> None:
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{2,32}", value):
        raise ConfigError(attribute.name, "must be an IBKR account id such as DU1234567")


def _check_host(_inst: Any, attribute: Any, value: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9._:\[\]-]+", value):
        raise ConfigError(attribute.name, f"not a host name or address: {value!r}")


def _check_timezone(_inst: Any, attribute: Any, value: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(attribute.name, f"not an IANA time zone (America/New_York): {value!r}") from None


def _check_hold_minutes(_inst: Any, attribute: Any, value: float | None) -> None:
    if value is not None and not 0 <= value <= 120:
        raise ConfigError(attribute.name, f"must be between 0 and 120 minutes; got {value!r}")


def _check_oauth_url(_inst: Any, attribute: Any, value: str) -> None:
    if not re.fullmatch(r"https://[^/\s?#]+(/[^\s?#]*[^/\s?#])?", value):
        raise ConfigError(
            attribute.name,
            f"must look like 'https://api.ibkr.com/v1/api' (https, no trailing '/'); got {value!r}",
        )


def _check_url(_inst: Any, attribute: Any, value: str | None) -> None:
    if value is not None and not re.fullmatch(r"https://[^/\s]+", value):
        raise ConfigError(attribute.name, f"must look like 'https://127.0.0.1:5000' (no path); got {value!r}")


# --------------------------------------------------------------------------------------------


@define(frozen=True, kw_only=True)
class IBKRConfig:
    """How to reach the Client Portal Gateway and how to behave there.

    TLS (``ssl_verify``): ``True`` verifies the gateway against the system's trust store (the stock
    gateway's self-signed certificate fails; the error names its fingerprint and the pin to set), a
    path verifies against that CA bundle, ``"sha256:<hex>"`` pins the gateway's (self-signed)
    certificate: it is fetched, its SHA-256 compared, and then exactly that certificate is trusted.
    ``False`` means trust on first use: the certificate presented at connect is pinned for the life
    of the client (a warning names it). Pins and ``False`` are for a loopback gateway only.

    ``database_url``: the adapter's order log (HOST_CONTRACT §5); ``AXION_IBKR_DATABASE_URL`` wins,
    unset means SQLite in the user data directory, ``"memory"`` keeps the adapter's log in memory
    (tests and throw-away sessions only).
    """

    mode: str = field(default="auto", validator=_check_mode)
    gateway_host: str = field(default="localhost", validator=_check_host)
    gateway_port: int = field(default=5000, validator=_check_range(1, 65535))
    base_path: str = field(default="/v1/api", validator=_check_base_path)
    ssl_verify: bool | str = True
    #: ``sim`` mode: attach to a simulator already running at this URL instead of starting one.
    sim_url: str | None = field(default=None, validator=_check_url)
    account_id: str | None = field(default=None, validator=_check_account)
    #: up to 600 (10/s, a gateway's ceiling); in ``oauth`` mode up to 3000 (IBKR's 50/s for direct access)
    max_requests_per_minute: int = field(default=50, validator=_check_range(1, MAX_OAUTH_REQUESTS_PER_MINUTE))
    request_timeout: float = field(default=15.0, validator=_check_positive)
    connect_timeout: float = field(default=5.0, validator=_check_positive)
    #: ``auto`` mode: how long the configured gateway gets to answer before the simulator is used.
    probe_timeout: float = field(default=2.0, validator=_check_positive)
    #: Idempotent requests: attempts in all (1 = no retry) on 5xx and timeouts.
    max_attempts: int = field(default=3, validator=_check_range(1, 10))
    #: Back-off after an HTTP 429 (doubles on each repeat, capped at 15 min, IBKR's penalty box).
    rate_limit_backoff: float = field(default=60.0, validator=_check_positive)
    #: IBKR question ids answered "yes" without asking (default: none).
    auto_confirm: tuple[str, ...] = field(default=(), converter=_question_ids, validator=_check_questions)
    #: IBKR question ids switched off for the WHOLE brokerage session at start-up
    #: (``/iserver/questions/suppress``): every program on the same gateway (the page a person watches,
    #: another host process) then places orders without those questions. Default: none. Prefer
    #: ``auto_confirm``, which answers the listed questions in this client's own orders only.
    suppress_questions: tuple[str, ...] = field(
        default=(), converter=_question_ids, validator=_check_questions
    )
    max_question_rounds: int = field(default=10, validator=_check_range(1, 20))
    allow_live_trading: bool = False
    futures_operator: str | None = None
    manual_orders: bool = False
    allow_fractional: bool = False
    competing_policy: str = field(
        default=DEFAULT_COMPETING_POLICY, validator=_check_choice(COMPETING_POLICIES)
    )
    keepalive_interval: float = field(default=60.0, validator=_check_range(1.0, 300.0))
    #: Snapshot: how long to keep asking for conids that came back without data.
    snapshot_timeout: float = field(default=5.0, validator=_check_range(0.0, 60.0))
    database_url: str | None = None
    #: One pacing budget per gateway shared by every process (:mod:`axion_broker_ibkr.drivers.pacing`).
    pacing_store: str = field(default="auto", validator=_check_choice(PACING_STORES))
    #: ``file`` store: the directory of its state files (default: the user data directory).
    pacing_dir: str | None = None
    #: The time zone of the gateway's server region: IBKR's daily reset (about 01:00 local) and
    #: Saturday maintenance are in it (:mod:`axion_broker_ibkr.ops.resets`).
    reset_timezone: str = field(default="America/New_York", validator=_check_timezone)
    #: Orders are held from this many minutes before a reset until the session is back (0: never;
    #: ``None``: :data:`axion_broker_ibkr.ops.resets.DEFAULT_HOLD_MINUTES`).
    reset_hold_minutes: float | None = field(default=None, validator=_check_hold_minutes)
    #: ``oauth`` mode: IBKR's Web API (``AXION_IBKR_OAUTH_BASE_URL``); ``ssl_verify`` applies to it.
    oauth_base_url: str = field(default=DEFAULT_OAUTH_BASE_URL, validator=_check_oauth_url)
    #: ``oauth`` mode: a JSON credentials file (``consumer_key``, ``access_token``,
    #: ``access_token_secret``, ``dh_prime``, ``dh_generator``, ``realm``, ``encryption_key_file``,
    #: ``signature_key_file``; key paths relative to the file). The ``oauth_*`` keys below give the
    #: same one by one (and override the file's values).
    oauth_credentials: str | None = None
    oauth_consumer_key: str | None = None
    oauth_access_token: str | None = field(default=None, repr=False)
    oauth_access_token_secret: str | None = field(default=None, repr=False)
    oauth_dh_prime: str | None = field(default=None, repr=False)
    oauth_dh_generator: int | None = None
    oauth_realm: str | None = None
    oauth_encryption_key_file: str | None = None
    oauth_signature_key_file: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.mode != "oauth" and self.max_requests_per_minute > MAX_REQUESTS_PER_MINUTE:
            raise ConfigError(
                "max_requests_per_minute",
                f"must be between 1 and {MAX_REQUESTS_PER_MINUTE} for a gateway (IBKR's 10/s); "
                f"up to {MAX_OAUTH_REQUESTS_PER_MINUTE} only in mode 'oauth'; "
                f"got {self.max_requests_per_minute}",
            )
        verify = self.ssl_verify
        if verify is False:
            remote = [h for h in self._tls_hosts() if not is_loopback(h)]
            if remote:
                raise ConfigError(
                    "ssl_verify",
                    f"false (trust on first use) is only allowed for a loopback gateway, not {remote[0]!r}; "
                    "give the path of a CA bundle that signs its certificate",
                )
        if isinstance(verify, str):
            pin = parse_fingerprint(verify)
            if pin is not None:
                if not is_loopback(self.gateway_host):
                    raise ConfigError(
                        "ssl_verify",
                        "certificate pinning is only allowed for a loopback gateway, "
                        f"not {self.gateway_host!r}; give a CA bundle path instead",
                    )
                oauth_host = urlsplit(self.oauth_base_url).hostname or ""
                if self.mode == "oauth" and not is_loopback(oauth_host):
                    raise ConfigError(
                        "ssl_verify",
                        f"certificate pinning is not allowed for {oauth_host!r} (oauth_base_url); "
                        "give a CA bundle path, or true for the system's trust store",
                    )
            elif not Path(verify).is_file():
                raise ConfigError("ssl_verify", f"CA bundle {verify!r} does not exist")
        if self.futures_operator is not None and not self.futures_operator.strip():
            raise ConfigError("futures_operator", "must not be blank")

    def _tls_hosts(self) -> list[str]:
        """The hosts this configuration may open TLS to: the gateway, an attached simulator, and
        IBKR's Web API in ``oauth`` mode."""
        hosts = [self.gateway_host]
        if self.sim_url:
            hosts.append(urlsplit(self.sim_url).hostname or self.sim_url)
        if self.mode == "oauth":
            hosts.append(urlsplit(self.oauth_base_url).hostname or self.oauth_base_url)
        return hosts

    @property
    def oauth_configured(self) -> bool:
        """OAuth credentials are given (a file, or the consumer key one by one)."""
        return bool(self.oauth_credentials or self.oauth_consumer_key)

    # ----------------------------------------------------------------------------------------

    @property
    def gateway_root(self) -> str:
        """``https://host:port`` of the configured gateway (what a human opens to log in)."""
        host = self.gateway_host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"https://{host}:{self.gateway_port}"

    @property
    def gateway_url(self) -> str:
        """REST base URL of the configured gateway, e.g. ``https://localhost:5000/v1/api``."""
        return self.gateway_root + self.base_path

    @property
    def pinned_fingerprint(self) -> str | None:
        return parse_fingerprint(self.ssl_verify) if isinstance(self.ssl_verify, str) else None

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(a.name for a in fields(cls))

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None
    ) -> IBKRConfig:
        """From the host's config mapping; missing keys fall back to ``AXION_IBKR_*`` variables
        (``env``, default ``os.environ``), then to the defaults. Unknown keys are an error."""
        environ = os.environ if env is None else env
        values = cls._user_file_values(environ)
        values.update(cls._env_values(environ))
        for key, value in (mapping or {}).items():
            if key not in _COERCE:
                raise ConfigError(str(key), f"unknown IBKR config key; known keys: {', '.join(cls.keys())}")
            if value is not None:
                values[key] = value
        if "ssl_verify" not in values:
            # A pin the user saved with ``axion-ibkr trust`` (or the page) for this gateway.
            from .userconfig import gateway_pin, user_config_path

            host = str(values.get("gateway_host", "localhost"))
            port = _to_int("gateway_port", values.get("gateway_port", 5000))
            pin = gateway_pin(host, port, user_config_path(environ))
            if pin is not None:
                values["ssl_verify"] = pin
        return cls(**{key: _COERCE[key](key, value) for key, value in values.items()})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IBKRConfig:
        """From ``AXION_IBKR_<KEY>`` environment variables only."""
        return cls.from_mapping({}, env=env)

    @staticmethod
    def _user_file_values(env: Mapping[str, str]) -> dict[str, Any]:
        """Settings from the user config file (``userconfig``), the lowest layer above the defaults."""
        from .userconfig import user_config_path, user_settings

        path = user_config_path(env)
        values = user_settings(path)
        for key in values:
            if key not in _COERCE:
                raise ConfigError(
                    str(key), f"unknown IBKR setting in {path}; known keys: {', '.join(_COERCE)}"
                )
        return values

    @staticmethod
    def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
        from .userconfig import ENV_VAR as CONFIG_FILE_VAR

        out: dict[str, Any] = {}
        for name, value in env.items():
            if not name.startswith(ENV_PREFIX) or name == CONFIG_FILE_VAR:
                continue
            key = name[len(ENV_PREFIX) :].lower()
            if key not in _COERCE:
                raise ConfigError(name, f"unknown IBKR setting; known keys: {', '.join(_COERCE)}")
            out[key] = value
        return out


_COERCE: dict[str, Callable[[str, Any], Any]] = {
    "mode": _to_str,
    "gateway_host": _to_str,
    "gateway_port": _to_int,
    "base_path": _to_str,
    "ssl_verify": _to_ssl_verify,
    "sim_url": _to_opt_str,
    "account_id": _to_opt_str,
    "max_requests_per_minute": _to_int,
    "request_timeout": _to_float,
    "connect_timeout": _to_float,
    "probe_timeout": _to_float,
    "max_attempts": _to_int,
    "rate_limit_backoff": _to_float,
    "auto_confirm": _to_str_tuple,
    "suppress_questions": _to_str_tuple,
    "max_question_rounds": _to_int,
    "allow_live_trading": _to_bool,
    "futures_operator": _to_opt_str,
    "manual_orders": _to_bool,
    "allow_fractional": _to_bool,
    "competing_policy": _to_str,
    "keepalive_interval": _to_float,
    "snapshot_timeout": _to_float,
    "database_url": _to_opt_str,
    "pacing_store": _to_str,
    "pacing_dir": _to_opt_str,
    "reset_timezone": _to_str,
    "reset_hold_minutes": _to_opt_float,
    "oauth_base_url": _to_str,
    "oauth_credentials": _to_opt_str,
    "oauth_consumer_key": _to_opt_str,
    "oauth_access_token": _to_opt_str,
    "oauth_access_token_secret": _to_opt_str,
    "oauth_dh_prime": _to_opt_str,
    "oauth_dh_generator": lambda key, value: None if value is None else _to_int(key, value),
    "oauth_realm": _to_opt_str,
    "oauth_encryption_key_file": _to_opt_str,
    "oauth_signature_key_file": _to_opt_str,
}


def takes_over_competing(owner: object) -> bool:
    """Whether a competing brokerage session is taken over (``ssodh/init`` with ``compete``), read
    in one place for the keep-alive and the stream: ``owner`` is an :class:`IBKRConfig`, or anything
    with a ``config`` carrying one (a client). No config, or no ``competing_policy``, means the
    default :data:`DEFAULT_COMPETING_POLICY` (``wait``): never take over unless asked to."""
    config = owner if isinstance(owner, IBKRConfig) else getattr(owner, "config", None)
    policy = getattr(config, "competing_policy", None)
    if not isinstance(policy, str):
        policy = DEFAULT_COMPETING_POLICY
    return policy == "take_over"
