"""Interactive Brokers (Client Portal Web API) broker plugin for the Axion trading platform.

Importing this package is cheap: the heavy parts (client, simulator, streaming, store, dashboard)
are imported by name on first use.
"""

from __future__ import annotations

from . import _moved

__version__ = "0.1.0"

BROKER_NAME = "ibkr"

_moved.install()  # the 0.1 module paths (axion_broker_ibkr.contracts, ...), kept for one release
