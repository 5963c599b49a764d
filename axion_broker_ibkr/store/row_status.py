"""Order-log status vocabulary, and how IBKR's order statuses map onto it.

``pending_submit`` (row committed, POST not known to have left) and ``submitted_unconfirmed``
(POST sent, no usable reply) are *unsettled*: start-up reconciliation settles them. The rest come
from the reply, the stream or reconciliation, in the host's words (``open``, ``partially_filled``,
``filled``, ``canceled``, ``rejected``, ``expired``, ``pending``) plus ``unknown_at_broker`` and
``declined`` (IBKR asked a question that was not answered yes: never placed, not refused) and
``awaiting_answer`` (a question held for the caller: unsettled too; no order at IBKR yet).
"""

from __future__ import annotations

from ..ops.journal import TERMINAL as TERMINAL  # the rule every journal shares lives with the protocol
from ..ops.journal import UNSETTLED as UNSETTLED
from ..ops.journal import canonical_ibkr_status
from ..orders.status import LOG_AWAITING_ANSWER, LOG_DECLINED, status_info

PENDING_SUBMIT = "pending_submit"
SUBMITTED_UNCONFIRMED = "submitted_unconfirmed"
OPEN = "open"
FILLED = "filled"
CANCELED = "canceled"
REJECTED = "rejected"
#: IBKR asked a question that was not answered yes: never placed, not refused by IBKR.
DECLINED = LOG_DECLINED
#: A question held for the caller (``hold_questions=True``), not answered yet: IBKR holds no order.
AWAITING_ANSWER = LOG_AWAITING_ANSWER
UNKNOWN_AT_BROKER = "unknown_at_broker"
# The host's other words (orders.status.HOST_STATUSES), written by the client and by stream events:
PENDING = "pending"
PARTIALLY_FILLED = "partially_filled"
EXPIRED = "expired"

#: Statuses of an order that is (or may still be) working at the broker.
WORKING: frozenset[str] = frozenset({PENDING, OPEN, PARTIALLY_FILLED})


def log_status_from_ibkr(ibkr_status: str | None) -> str | None:
    """The order-log status for IBKR's status word (:func:`~axion_broker_ibkr.orders.status.status_info`,
    any of IBKR's spellings), ``None`` when the word is unknown or missing."""
    info = status_info(ibkr_status)
    return info.log if info.known else None


#: IBKR's status word as the ``ibkr_status`` column keeps it: IBKR's canonical spelling from the
#: vocabulary (``Canceled``/``cancelled`` -> ``Cancelled``, ``Pre Submitted`` -> ``PreSubmitted``), the
#: text as given when the word is unknown; at most 32 characters (the column's width).
ibkr_word = canonical_ibkr_status
