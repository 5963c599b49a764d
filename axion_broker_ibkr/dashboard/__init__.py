"""The IBKR Streamlit page (``render()``): Account, Trading, Market Data and Gateway tabs.

Streamlit is an optional dependency (the ``[dashboard]`` extra). The view-model modules
(``vm_*``, ``errors_text``) are pure and import no Streamlit; ``render`` is imported lazily so that
``axion_broker_ibkr.dashboard.vm_account`` etc. work without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render"]


def __getattr__(name: str) -> Any:
    if name == "render":
        from .page import render

        return render
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
