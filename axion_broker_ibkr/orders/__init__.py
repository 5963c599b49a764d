"""Order translation: host order dict -> OrderIntent -> CPAPI order JSON (pure, no I/O).

Public API (docs/ARCHITECTURE.md)::

    translate_order(order, contract, options=None) -> dict
    intent_from_host(order, contract) -> OrderIntent
    payload_from_intent(intent, contract, options) -> CPAPIOrder
    intent_from_payload(payload, contract) -> OrderIntent
    asset_type_to_sec_type(asset_type) -> str
    host_order_status(ibkr_status, filled, total) -> str
    new_client_order_id() -> str

The rules enforced are tables in :mod:`axion_broker_ibkr.orders.rules`.
"""

from .model import CPAPIOrder, OrderIntent, TranslateOptions, options_from_env
from .status import host_order_status
from .translate import (
    asset_type_to_sec_type,
    intent_from_host,
    intent_from_payload,
    new_client_order_id,
    payload_from_intent,
    translate_order,
)

__all__ = [
    "CPAPIOrder",
    "OrderIntent",
    "TranslateOptions",
    "asset_type_to_sec_type",
    "host_order_status",
    "intent_from_host",
    "intent_from_payload",
    "new_client_order_id",
    "options_from_env",
    "payload_from_intent",
    "translate_order",
]
