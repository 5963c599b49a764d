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


def _store() -> dict[str, tuple[float, Any]]:
    if _CACHE_KEY not in st.session_state:
        st.session_state[_CACHE_KEY] = {}
    return cast(dict[str, tuple[float, Any]], st.session_state[_CACHE_KEY])


def cached(name: str, loader: Callable[[], T], ttl: float) -> T:
    """The value of ``loader()``, reused for ``ttl`` seconds. Errors are not cached."""
    store = _store()
    now = time.monotonic()
    hit = store.get(name)
    if hit is not None and now - hit[0] < ttl:
        return cast(T, hit[1])
    value = loader()
    store[name] = (now, value)
    return value


def invalidate(*prefixes: str) -> None:
    """Forget every cached value whose name starts with one of ``prefixes`` (all when none given)."""
    store = _store()
    for name in list(store):
        if not prefixes or name.startswith(prefixes):
            del store[name]
