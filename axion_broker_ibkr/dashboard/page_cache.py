"""Per-browser-session data cache for the page (Streamlit reruns the script on every click).

IBKR paces several endpoints at one request per five seconds (live orders, trades, P&L, portfolio
accounts), so the page keeps what it fetched for a short time and refreshes on demand (a button)
or after an action that changed it (a placed or cancelled order invalidates ``orders``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import streamlit as st

T = TypeVar("T")
_CACHE_KEY = "_ibkr_data_cache"
_LAST_KEY = "_ibkr_last_calls"


def _store() -> dict[str, tuple[float, Any]]:
    if _CACHE_KEY not in st.session_state:
        st.session_state[_CACHE_KEY] = {}
    return cast(dict[str, tuple[float, Any]], st.session_state[_CACHE_KEY])


def cached(name: str, loader: Callable[[], T], ttl: float, min_interval: float = 0.0) -> T:
    """The value of ``loader()``, reused for ``ttl`` seconds. Errors are not cached.

    ``min_interval``: after an :func:`invalidate`, the next call still waits until this long after
    the previous one (a margin over IBKR's 1-per-5-s pacing of the endpoint; a 429 costs a minute).
    """
    store = _store()
    now = time.monotonic()
    hit = store.get(name)
    if hit is not None and now - hit[0] < ttl:
        return cast(T, hit[1])
    last = _last_calls().get(name)
    if last is not None and now - last < min_interval:
        time.sleep(min_interval - (now - last))
    value = loader()
    now = time.monotonic()
    _last_calls()[name] = now
    store[name] = (now, value)
    return value


def is_fresh(name: str, ttl: float) -> bool:
    """``cached(name, ...)`` would answer from the cache now (no request, no wait)."""
    hit = _store().get(name)
    return hit is not None and time.monotonic() - hit[0] < ttl


def wait_left(name: str, min_interval: float) -> float:
    """Seconds ``cached(name, ..., min_interval=...)`` would still wait before its request."""
    last = _last_calls().get(name)
    if last is None:
        return 0.0
    return max(0.0, min_interval - (time.monotonic() - last))


def _last_calls() -> dict[str, float]:
    if _LAST_KEY not in st.session_state:
        st.session_state[_LAST_KEY] = {}
    return cast(dict[str, float], st.session_state[_LAST_KEY])


def invalidate(*prefixes: str) -> None:
    """Forget every cached value whose name starts with one of ``prefixes`` (all when none given)."""
    store = _store()
    for name in list(store):
        if not prefixes or name.startswith(prefixes):
            del store[name]
