"""The translate hook's account settings, read once and refreshed when their sources change.

The host calls ``axion_broker_translate_order`` with no options, so the four settings that shape a
payload (``account_id``, ``allow_fractional``, ``futures_operator``, ``manual_orders``) come from
the ``AXION_IBKR_*`` environment over the user config file (``userconfig``; the same layering as
:meth:`~axion_broker_ibkr.config.IBKRConfig.from_mapping`). They are not re-read on every call:

* the environment is checked on every call by a snapshot of the five relevant items (the four
  settings and ``AXION_IBKR_CONFIG_FILE``); a change is honoured on the next call;
* the user config file is checked by its ``stat`` (mtime, size) at most every
  :data:`FILE_CHECK_SECONDS`: an edit of the file is seen within that time (a ``stat`` per order
  would cost as much as the rest of the check).

Nothing here is cached when reading fails: a bad value raises
:class:`~axion_broker_ibkr.errors.ConfigError` (a ``ValueError`` naming the setting) on every call
until it is fixed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .orders.model import TranslateOptions, _env_bool, _env_text
from .userconfig import ENV_VAR as CONFIG_FILE_VAR
from .userconfig import user_config_path, user_settings

#: How often (seconds) the user config file's stat is compared; the environment is checked always.
FILE_CHECK_SECONDS = 0.5

#: The settings the hook reads, by IBKRConfig key.
KEYS: tuple[str, ...] = ("account_id", "allow_fractional", "futures_operator", "manual_orders")
_ENV_NAMES: tuple[str, ...] = (*(f"AXION_IBKR_{key.upper()}" for key in KEYS), CONFIG_FILE_VAR)

Stamp = tuple[int, int] | None

#: (environ object, its snapshot, config file path, file stamp, monotonic time of the last file
#: check, the options). Replaced as a whole, so a reader on another thread sees one consistent state.
_cached: tuple[object, tuple[Any, ...], Path, Stamp, float, TranslateOptions] | None = None
#: The encoded keys of the ``os._Environ`` they were computed for.
_encoded: tuple[object, tuple[Any, ...]] | None = None


def _snapshot(environ: Mapping[str, str]) -> tuple[Any, ...]:
    """The relevant items of ``environ``, cheaply. CPython's ``os.environ`` keeps its items in an
    encoded dict (``_data``; every change through ``os.environ`` updates it); its public ``get``
    costs about 0.7 µs a key (encode, and a ``KeyError`` for a missing one), so the snapshot reads
    the encoded dict directly and compares raw values. Any other mapping (a replaced
    ``os.environ``) is read through its public ``get``."""
    global _encoded
    data = getattr(environ, "_data", None) if isinstance(environ, os._Environ) else None
    if isinstance(data, dict):
        if _encoded is None or _encoded[0] is not environ:
            encodekey = environ.encodekey  # type: ignore[attr-defined]
            _encoded = environ, tuple(encodekey(name) for name in _ENV_NAMES)
        get = data.get
        k0, k1, k2, k3, k4 = _encoded[1]
        return get(k0), get(k1), get(k2), get(k3), get(k4)
    return tuple(environ.get(name) for name in _ENV_NAMES)


def _stamp(path: Path) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _file_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _build(environ: Mapping[str, str], path: Path) -> TranslateOptions:
    """Environment over the user config file over the defaults (each value checked)."""
    from_file = user_settings(path) if _stamp(path) is not None else {}
    values: dict[str, tuple[str, str | None]] = {}
    for key, name in zip(KEYS, _ENV_NAMES, strict=False):
        env_value = environ.get(name)
        if env_value is not None:
            values[key] = (name, env_value)
        else:
            values[key] = (f"{key} (in {path})", _file_text(from_file.get(key)))
    return TranslateOptions(
        account_id=_env_text(values["account_id"][1]),
        allow_fractional=_env_bool(*values["allow_fractional"]),
        futures_operator=_env_text(values["futures_operator"][1]),
        manual_orders=_env_bool(*values["manual_orders"]),
    )


def translate_options() -> TranslateOptions:
    """The hook's options: from the cache while neither the environment nor the user config file
    has changed (see the module docstring), else read again."""
    global _cached
    environ = os.environ
    snap = _snapshot(environ)
    cached = _cached
    if cached is not None and cached[0] is environ and cached[1] == snap:
        now = time.monotonic()
        if now - cached[4] < FILE_CHECK_SECONDS:
            return cached[5]
        path = cached[2]
        if _stamp(path) == cached[3]:
            _cached = (environ, snap, path, cached[3], now, cached[5])
            return cached[5]
    path = user_config_path(environ)
    stamp = _stamp(path)  # taken before reading: a write during the read is seen next time
    options = _build(environ, path)
    _cached = (environ, snap, path, stamp, time.monotonic(), options)
    return options


def forget() -> None:
    """Drop the cached options (the next call reads the environment and the file again)."""
    global _cached
    _cached = None
