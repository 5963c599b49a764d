"""The ``auto`` mode decision, in one place: is there a gateway at the configured address?

Rule: ``auto`` uses the simulator only when *nothing accepts a TCP connection* on the gateway's
port. Anything that answers is the gateway, whatever it then says: a certificate this client does
not trust gives "certificate not trusted" (with the fingerprint and ``axion-ibkr trust``), a 401
gives "log in at <URL>", a closed brokerage session is opened; none of these falls back. The
simulator's own ``X-Axion-Simulator`` header plays no part here: a simulator listening on the
gateway's port is treated exactly as a gateway (that is how tests play a "real gateway").

Used by both clients (:meth:`~axion_broker_ibkr.drivers.client_base.ClientBase._choose_after_probe`) and by
the dashboard launcher; ``axion-ibkr status`` goes through the client.
"""

from __future__ import annotations

import socket


def gateway_listening(host: str, port: int, timeout: float) -> bool:
    """True when something accepts a TCP connection at ``host:port`` (no request is sent)."""
    try:
        with socket.create_connection((host.strip("[]"), port), timeout=timeout):
            return True
    except OSError:
        return False


def auto_reason(host: str, port: int, listening: bool) -> str:
    """The sentence that says what ``auto`` decided."""
    if listening:
        return f"auto: something accepts connections at {host}:{port}; it is the gateway"
    return f"auto: nothing accepts connections at {host}:{port}; embedded simulator"
