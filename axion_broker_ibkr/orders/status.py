"""IBKR order status -> the host's ``OrderStatus`` words, honestly (HOST_CONTRACT §4).

The host's executor treats an unknown status as *filled*, so this mapping never says ``filled``
unless IBKR does and the quantities agree. Statuses (REFERENCE §4.9) are read in any spelling:
``PreSubmitted``, ``Pre Submitted``, ``pre_submitted`` (separators and case are ignored, nothing else).

=================================  ==============================================================
IBKR                               host
=================================  ==============================================================
PendingSubmit, ApiPending          ``pending`` (received, not yet working)
PreSubmitted, Submitted, WarnState ``open``; ``partially_filled`` when 0 < filled < total
PendingCancel                      as Submitted: the order works until the cancel is confirmed
Filled                             ``filled``; ``partially_filled`` if filled < total (inconsistent
                                   numbers never claim a complete fill)
Cancelled, ApiCancelled            ``canceled``
Inactive, Rejected                 ``rejected`` (not working: rejected, or never transmitted)
Expired                            ``expired``
``None``/empty                     ``pending``
anything else (incl. numeric       ``pending``, or ``partially_filled`` when 0 < filled < total;
``order_ccp_status`` codes)        logged as a warning. Never ``filled``.
=================================  ==============================================================
"""

from __future__ import annotations

import logging
import math

logger = logging.getLogger(__name__)

HOST_STATUSES = (
    "pending",
    "open",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "expired",
    "replaced",
)

#: Normalised IBKR status (lower case; spaces, ``_`` and ``-`` removed) -> host status before fills.
_STATUS: dict[str, str] = {
    "pendingsubmit": "pending",
    "apipending": "pending",
    "presubmitted": "open",
    "submitted": "open",
    "warnstate": "open",
    "pendingcancel": "open",
    "filled": "filled",
    "cancelled": "canceled",
    "canceled": "canceled",
    "apicancelled": "canceled",
    "inactive": "rejected",
    "rejected": "rejected",
    "expired": "expired",
}

_SEPARATORS = str.maketrans("", "", " _-\t")

#: Unknown statuses map here (documented above): it claims no fill and keeps the host watching.
SAFE_STATUS = "pending"


def _quantity(value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number > 0.0 else 0.0


def host_order_status(ibkr_status: str | None, filled: float, total: float) -> str:
    """The host status for an IBKR ``status``/``order_status`` and the filled/total quantities."""
    done = _quantity(filled)
    size = _quantity(total)
    partial = 0.0 < done < size
    key = ibkr_status.translate(_SEPARATORS).lower() if isinstance(ibkr_status, str) else ""
    status = _STATUS.get(key) if key else SAFE_STATUS
    if status is None:
        logger.warning("unknown IBKR order status %r mapped to %r", ibkr_status, SAFE_STATUS)
        status = SAFE_STATUS
    if status == "filled":
        return "partially_filled" if size > 0.0 and done < size else "filled"
    if partial and status in ("open", "pending"):
        return "partially_filled"
    return status
