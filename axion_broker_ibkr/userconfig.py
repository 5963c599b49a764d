"""The user's own settings file: ``config.toml`` in the platformdirs user config directory.

Precedence of a setting (highest first): keyword arguments / the host's config mapping, then
``AXION_IBKR_<KEY>`` environment variables, then this file, then the defaults. The file holds the
per-user settings a trader sets once (``futures_operator``, ``auto_confirm``, ``manual_orders``, ...)
and the certificate pins of the gateways the user trusted (``axion-ibkr trust``, the page's
"Trust this gateway"), as SSH's ``known_hosts`` does::

    futures_operator = "jdoe"
    auto_confirm = ["o163"]

    [gateways."localhost:5000"]
    pin = "sha256:0123...ef"

``AXION_IBKR_CONFIG_FILE`` names another file (tests point it at a temporary directory). The file is
written atomically and readable by its owner only; a malformed file is an error that names it.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError

APP_NAME = "axion-ibkr"
FILENAME = "config.toml"
#: Names the file to use instead of the default one (not an IBKRConfig key).
ENV_VAR = "AXION_IBKR_CONFIG_FILE"
_GATEWAYS = "gateways"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the user config file is (it need not exist)."""
    environ = os.environ if env is None else env
    override = environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / FILENAME


def load_user_config(path: Path | None = None) -> dict[str, Any]:
    """The whole file as a dict (``{}`` when there is none)."""
    path = path or user_config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(ENV_VAR, f"cannot read the user config file {path}: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(ENV_VAR, f"the user config file {path} is not valid TOML: {exc}") from exc
    return data


def user_settings(path: Path | None = None) -> dict[str, Any]:
    """The IBKRConfig settings of the file (everything but the ``[gateways]`` table)."""
    return {k: v for k, v in load_user_config(path).items() if k != _GATEWAYS}


def gateway_pin(host: str, port: int, path: Path | None = None) -> str | None:
    """The ``sha256:<hex>`` pin the user saved for ``host:port``, if any."""
    gateways = load_user_config(path).get(_GATEWAYS) or {}
    entry = gateways.get(_gateway_key(host, port)) if isinstance(gateways, dict) else None
    pin = entry.get("pin") if isinstance(entry, dict) else None
    return str(pin) if pin else None


def save_user_setting(key: str, value: Any, path: Path | None = None) -> Path:
    """Set (``value`` not None) or remove (``None``) one top-level setting; returns the file's path."""
    path = path or user_config_path()
    data = load_user_config(path)
    if value is None:
        data.pop(key, None)
    else:
        data[key] = value
    _write(path, data)
    return path


def save_gateway_pin(host: str, port: int, fingerprint: str, path: Path | None = None) -> Path:
    """Remember ``fingerprint`` (``sha256:<hex>``) as the trusted certificate of ``host:port``."""
    path = path or user_config_path()
    data = load_user_config(path)
    gateways = data.setdefault(_GATEWAYS, {})
    gateways.setdefault(_gateway_key(host, port), {})["pin"] = fingerprint
    _write(path, data)
    return path


def _gateway_key(host: str, port: int) -> str:
    return f"{host.strip('[]').lower()}:{int(port)}"


# ---------------------------------------------------------------------------------------------
# A small TOML writer for what this file holds: scalars, lists of scalars, and tables of tables.


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to the user config file")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _value(key)


def dumps(data: Mapping[str, Any]) -> str:
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((_key(key), value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    while tables:
        name, table = tables.pop(0)
        scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
        if scalars or not table:
            lines += ["", f"[{name}]"] + [f"{_key(k)} = {_value(v)}" for k, v in scalars]
        tables[:0] = [(f"{name}.{_key(k)}", v) for k, v in table.items() if isinstance(v, Mapping)]
    return "\n".join(lines).lstrip("\n") + "\n"


def _write(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(data))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
