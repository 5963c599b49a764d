"""Order-log status vocabulary, and how IBKR's order statuses map onto it.

``pending_submit`` (row committed, POST not known to have left) and ``submitted_unconfirmed``
(POST sent, no usable reply) are *unsettled*: start-up reconciliation settles them. The rest come
from the reply, the stream or reconciliation, in the host's words (``open``, ``partially_filled``,
``filled``, ``canceled``, ``rejected``, ``expired``, ``pending``) plus ``unknown_at_broker``.
"""

from __future__ import annotations

from ..journal import TERMINAL as TERMINAL  # the rule every journal shares lives with the protocol
from ..journal import UNSETTLED as UNSETTLED

PENDING_SUBMIT = "pending_submit"
SUBMITTED_UNCONFIRMED = "submitted_unconfirmed"
OPEN = "open"
FILLED = "filled"
CANCELED = "canceled"
REJECTED = "rejected"
UNKNOWN_AT_BROKER = "unknown_at_broker"
# The host's other words (orders.status.HOST_STATUSES), written by the client and by stream events:
PENDING = "pending"
PARTIALLY_FILLED = "partially_filled"
EXPIRED = "expired"

#: Statuses of an order that is (or may still be) working at the broker.
WORKING: frozenset[str] = frozenset({PENDING, OPEN, PARTIALLY_FILLED})

#: IBKR ``status`` / ``order_status`` words (REFERENCE §4.9), lower-cased and without separators.
_IBKR_TO_LOG: dict[str, str] = {
    "inactive": REJECTED,  # not transmitted / rejected / deactivated: not working at the broker
    "pendingsubmit": OPEN,
    "presubmitted": OPEN,
    "submitted": OPEN,
    "warnstate": OPEN,
    "pendingcancel": OPEN,  # the cancel is not confirmed: still working until it is
    "filled": FILLED,
    "cancelled": CANCELED,
    "canceled": CANCELED,
    "apicancelled": CANCELED,
    "apicanceled": CANCELED,
    "apipending": OPEN,
    "rejected": REJECTED,
    "expired": EXPIRED,
}


def log_status_from_ibkr(ibkr_status: str | None) -> str | None:
    """The order-log status for IBKR's status word, ``None`` when the word is unknown or missing.

    Tolerant of IBKR's spellings (``PreSubmitted``, ``pre_submitted``, ``Pending Submit``,
    ``Cancelled``/``Canceled``).
    """
    if not ibkr_status:
        return None
    key = "".join(ch for ch in ibkr_status.lower() if ch.isalnum())
    return _IBKR_TO_LOG.get(key)
