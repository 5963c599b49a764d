"""``IBKRGateway`` / ``AsyncIBKRGateway``: the Client Portal Gateway's health, kept alive.

* :meth:`check` answers a :class:`~axion_broker_ibkr.models.GatewayStatus` (never raises for a
  gateway condition: a 401 becomes "log in to the gateway in a browser at <url>", an unreachable
  gateway ``reachable=False``), with the mode on it.
* :meth:`start` runs IBKR's start-up sequence (REFERENCE §1.7: auth status -> ``ssodh/init`` when
  needed -> ``/iserver/accounts`` -> ``/portfolio/accounts`` -> question suppression) and starts the
  keep-alive: a ``/tickle`` about once a minute that re-opens the brokerage session when it drops
  (``authenticated: false`` / ``no bridge``) and applies the competing-session policy (``wait``:
  report it and leave the other session alone; ``take_over``: ``ssodh/init`` with ``compete``).

The decisions are an I/O-free operation (:func:`keepalive_op`, in ``gatewaybase.py`` with the
state both gateways share) driven by either client. ``AsyncIBKRGateway`` is written once
(``gateway_async.py``); ``IBKRGateway`` (``gateway_sync.py``) is generated from it by
``python scripts/unasync.py``.
"""

from __future__ import annotations

from . import models as m
from .drivers.gateway_async import AsyncIBKRGateway
from .drivers.gateway_base import KeepaliveResult, keepalive_op
from .drivers.gateway_sync import IBKRGateway

__all__ = ["AsyncIBKRGateway", "GatewayStatus", "IBKRGateway", "KeepaliveResult", "keepalive_op"]
GatewayStatus = m.GatewayStatus
