"""One IBKR order-status vocabulary: every user of a status reads :func:`status_info`.

IBKR spells its statuses several ways (``PreSubmitted`` in order lists, ``Pre Submitted`` /
``pre_submitted`` in ``order_ccp_status`` and filters, ``Cancelled``/``Canceled``); they are read
case-, space-, ``_``- and ``-``-insensitively. Each maps to the host's ``OrderStatus`` word
(HOST_CONTRACT §4: never ``filled`` unless IBKR says so), the order-log status, whether the order
is still live / cancellable / modifiable, and the live-orders ``filters`` code (REFERENCE §4.9).

The decisions for the statuses the reference leaves open are in the table's comments. An unknown
word (or a numeric ``order_ccp_status`` code) gives ``known=False``: host ``pending`` (claims no
fill, keeps the host watching), log ``pending``, live and cancellable (the broker has the order),
not modifiable; it is logged as a warning.
"""

from __future__ import annotations

import logging
import math

from attrs import define

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


@define(frozen=True, kw_only=True)
class StatusInfo:
    """What one IBKR order status means to each part of the plugin."""

    ibkr: str  #: IBKR's canonical spelling (``PreSubmitted``); the text as given when unknown
    host: str  #: the host's ``OrderStatus`` word before fills are considered
    log: str  #: the order-log status
    live: bool  #: the order is (or may still be) working at the broker
    cancellable: bool  #: a cancel request makes sense
    modifiable: bool  #: a modify request makes sense
    filter: str | None  #: the ``/iserver/account/orders`` ``filters`` code; None when IBKR has none
    known: bool = True


def _info(
    ibkr: str, host: str, log: str, live: bool, cancel: bool, modify: bool, code: str | None
) -> StatusInfo:
    return StatusInfo(
        ibkr=ibkr, host=host, log=log, live=live, cancellable=cancel, modifiable=modify, filter=code
    )


#: The table. Columns: IBKR spelling, host, order log, live, cancellable, modifiable, filter code.
_TABLE: tuple[StatusInfo, ...] = (
    # ApiPending: IBKR's API has the order but has not sent it to IB's servers yet (e.g. waiting for
    # the security definition). Not working yet, but it will be: ``pending``, cancellable, not yet
    # modifiable (nothing at the venue to modify). The §4.9 filter list has no code for it.
    _info("ApiPending", "pending", "pending", True, True, False, None),
    # PendingSubmit: REFERENCE §4.9 "received but not active". The order has been transmitted and
    # not yet accepted by the destination: not working (``pending``, never ``open``) but may become
    # so, hence live and cancellable; not modifiable until IBKR acknowledges it.
    _info("PendingSubmit", "pending", "pending", True, True, False, "pending_submit"),
    # PreSubmitted: REFERENCE §4.9 "transmitted, venue has not yet acknowledged"; resting GTC limits
    # and IBKR-simulated orders (stops held until triggered) sit here for their whole life. It is a
    # working order: ``open``, cancellable and modifiable.
    _info("PreSubmitted", "open", "open", True, True, True, "pre_submitted"),
    _info("Submitted", "open", "open", True, True, True, "submitted"),
    # WarnState: working, with a warning attached (basket orders).
    _info("WarnState", "open", "open", True, True, True, "warn_state"),
    # PendingCancel: a cancel was sent and is not confirmed; the order works (and may fill) until it
    # is, so it stays ``open`` and live, but a second cancel or a modify makes no sense.
    _info("PendingCancel", "open", "open", True, False, False, "pending_cancel"),
    _info("Filled", "filled", "filled", False, False, False, "filled"),
    _info("Cancelled", "canceled", "canceled", False, False, False, "cancelled"),
    # ApiCancelled: cancelled by the API before it reached IB's servers; IBKR lists it with the
    # cancelled orders.
    _info("ApiCancelled", "canceled", "canceled", False, False, False, "cancelled"),
    # Inactive: REFERENCE §4.9 "not (yet) transmitted / rejected / saved (deactivated)". In none of
    # these readings is it working at the venue, and the Client Portal lists venue rejects under
    # it: ``rejected`` for the host and the log, not live, not cancellable or modifiable from here
    # (a saved/deactivated order is IBKR's to reactivate or delete in its own tools).
    _info("Inactive", "rejected", "rejected", False, False, False, "inactive"),
    # Not §4.9 words, but seen in order replies and the plugin's own results; read tolerantly.
    _info("Rejected", "rejected", "rejected", False, False, False, "inactive"),
    _info("Expired", "expired", "expired", False, False, False, None),
)

_SEPARATORS = str.maketrans("", "", " _-\t")


def _key(text: str) -> str:
    return text.translate(_SEPARATORS).lower()


_BY_KEY: dict[str, StatusInfo] = {_key(i.ibkr): i for i in _TABLE}
_BY_KEY["canceled"] = _BY_KEY["cancelled"]  # IBKR's docs and replies use both spellings
_BY_KEY["apicanceled"] = _BY_KEY["apicancelled"]

#: IBKR's canonical spellings, and the live-orders filter codes IBKR accepts (REFERENCE §4.9).
IBKR_STATUSES: tuple[str, ...] = tuple(i.ibkr for i in _TABLE)
FILTER_CODES: frozenset[str] = frozenset(i.filter for i in _TABLE if i.filter is not None)

#: Order-log statuses of an order that no longer works at the broker: no later event moves a row out
#: of one (the journals' settlement rule, :func:`axion_broker_ibkr.ops.journal.next_status`).
#: ``declined`` is the plugin's own: IBKR asked a question (``o163`` ...) that was not answered yes,
#: so the order was never placed (IBKR did not refuse it; it is not ``rejected``).
LOG_DECLINED = "declined"
#: The plugin's own too: IBKR asked a question that the caller holds (``hold_questions=True``) and has
#: not answered yet. IBKR holds *no* order for it (a question is asked before an order exists); the
#: row leaves it on the answer (the same row), ``declined`` on no or when the question expired.
LOG_AWAITING_ANSWER = "awaiting_answer"
LOG_TERMINAL: frozenset[str] = frozenset({i.log for i in _TABLE if not i.live} | {LOG_DECLINED})

#: Every order-log status (``ibkr_order_log.status``), in the order a row passes through them:
#: the unsettled ones (row written before the POST; POST sent without a usable answer), the question
#: held for the caller, the vocabulary's own log words, and ``unknown_at_broker`` (reconciliation).
LOG_STATUSES: tuple[str, ...] = (
    "pending_submit",
    "submitted_unconfirmed",
    LOG_AWAITING_ANSWER,
    *dict.fromkeys(i.log for i in _TABLE),
    "partially_filled",
    LOG_DECLINED,
    "unknown_at_broker",
)

#: How the page spells an order-log status that is not an IBKR word (IBKR's words are shown in
#: IBKR's own canonical spelling, :attr:`StatusInfo.ibkr`: ``Cancelled``, never ``canceled``).
_LOG_LABELS: dict[str, str] = {
    "pending_submit": "Pending submit",
    "submitted_unconfirmed": "Sent, unconfirmed",
    LOG_AWAITING_ANSWER: "Awaiting answer",
    "pending": "Pending",
    "open": "Open",
    "partially_filled": "Partially filled",
    LOG_DECLINED: "Declined",
    "unknown_at_broker": "Unknown at broker",
}


def status_label(status: str | None) -> str:
    """The one spelling the page shows for a status, whether it is IBKR's word in any of IBKR's
    spellings (``Canceled``, ``cancelled``, ``Pre Submitted`` -> ``Cancelled``, ``PreSubmitted``) or
    an order-log word (``canceled`` -> ``Cancelled``, ``declined`` -> ``Declined``). ``""`` for none."""
    text = status.strip() if isinstance(status, str) else ""
    if not text:
        return ""
    label = _LOG_LABELS.get(text)
    if label is not None:
        return label
    found = _BY_KEY.get(_key(text))
    return found.ibkr if found is not None else text


#: Unknown statuses map here (documented above): it claims no fill and keeps the host watching.
SAFE_STATUS = "pending"


def status_info(ibkr_status: str | None) -> StatusInfo:
    """The vocabulary entry for IBKR's ``status``/``order_status``/``order_ccp_status`` text, in any
    of IBKR's spellings. Unknown or missing: ``known=False`` (see the module docstring)."""
    text = ibkr_status.strip() if isinstance(ibkr_status, str) else ""
    found = _BY_KEY.get(_key(text)) if text else None
    if found is not None:
        return found
    if text:
        logger.warning("unknown IBKR order status %r treated as %r", ibkr_status, SAFE_STATUS)
    return StatusInfo(ibkr=text, host=SAFE_STATUS, log="pending", live=True, cancellable=bool(text),
                      modifiable=False, filter=None, known=False)  # fmt: skip


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
    status = status_info(ibkr_status).host
    if status == "filled":
        return "partially_filled" if size > 0.0 and done < size else "filled"
    if partial and status in ("open", "pending"):
        return "partially_filled"
    return status
