"""One IBKR order-status vocabulary (orders.status.status_info) and every user reading it."""

from __future__ import annotations

import pytest

from axion_broker_ibkr import models as m
from axion_broker_ibkr.dashboard import vm_trading
from axion_broker_ibkr.ops import iserver
from axion_broker_ibkr.ops.journal import TERMINAL, next_status
from axion_broker_ibkr.orders.status import (
    FILTER_CODES,
    HOST_STATUSES,
    IBKR_STATUSES,
    StatusInfo,
    host_order_status,
    status_info,
)
from axion_broker_ibkr.store.row_status import WORKING, log_status_from_ibkr

# IBKR spelling, host, log, live, cancellable, modifiable, filter
EXPECTED = [
    ("ApiPending", "pending", "pending", True, True, False, None),
    ("PendingSubmit", "pending", "pending", True, True, False, "pending_submit"),
    ("PreSubmitted", "open", "open", True, True, True, "pre_submitted"),
    ("Submitted", "open", "open", True, True, True, "submitted"),
    ("WarnState", "open", "open", True, True, True, "warn_state"),
    ("PendingCancel", "open", "open", True, False, False, "pending_cancel"),
    ("Filled", "filled", "filled", False, False, False, "filled"),
    ("Cancelled", "canceled", "canceled", False, False, False, "cancelled"),
    ("ApiCancelled", "canceled", "canceled", False, False, False, "cancelled"),
    ("Inactive", "rejected", "rejected", False, False, False, "inactive"),
]


@pytest.mark.parametrize("row", EXPECTED, ids=[r[0] for r in EXPECTED])
def test_each_ibkr_status_has_one_meaning(row: tuple[object, ...]) -> None:
    info = status_info(str(row[0]))
    assert (info.ibkr, info.host, info.log, info.live, info.cancellable, info.modifiable, info.filter) == row
    assert info.known and info.host in HOST_STATUSES


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("Pre Submitted", "PreSubmitted"), ("pre_submitted", "PreSubmitted"), ("PRESUBMITTED", "PreSubmitted"),
     ("Pending Submit", "PendingSubmit"), ("pending-cancel", "PendingCancel"), (" Canceled ", "Cancelled"),
     ("api_cancelled", "ApiCancelled"), ("ApiCanceled", "ApiCancelled"), ("api pending", "ApiPending"),
     ("inactive", "Inactive"), ("Warn State", "WarnState")],
)  # fmt: skip
def test_every_spelling_reads_the_same_row(spelling: str, canonical: str) -> None:
    assert status_info(spelling) == status_info(canonical)
    assert status_info(spelling).ibkr == canonical


@pytest.mark.parametrize("text", [None, "", "2", "Frobnicated"])
def test_unknown_statuses_claim_no_fill_and_keep_watching(text: str | None) -> None:
    info = status_info(text)
    assert isinstance(info, StatusInfo) and not info.known
    assert (info.host, info.log, info.live, info.modifiable, info.filter) == (
        "pending",
        "pending",
        True,
        False,
        None,
    )
    assert log_status_from_ibkr(text) is None  # reconciliation keeps its own reading of an unknown word


def test_the_users_read_the_table() -> None:
    for ibkr in IBKR_STATUSES:
        info = status_info(ibkr)
        # host map, order-log map, filter codes, the page's cancel/modify and the settlement rule agree
        assert host_order_status(ibkr, 10 if info.host == "filled" else 0, 10) == info.host
        assert log_status_from_ibkr(ibkr) == info.log
        assert iserver.status_code_of(ibkr) == info.filter
        if info.filter is not None:
            assert iserver.normalize_filters([ibkr]) == {info.filter}
        order = m.Order(status=ibkr)
        assert vm_trading.is_cancellable(order) is info.cancellable
        assert vm_trading.is_modifiable(order) is info.modifiable
        assert (info.log in TERMINAL) is (not info.live)
        assert (info.log in WORKING) is info.live
    assert set(iserver.ORDER_FILTERS.values()) == FILTER_CODES


def test_inactive_is_not_offered_for_cancel_and_pending_cancel_not_twice() -> None:
    assert not vm_trading.is_open(m.Order(status="Inactive"))
    assert not vm_trading.is_cancellable(m.Order(status="PendingCancel"))
    assert vm_trading.is_cancellable(m.Order(status="PendingSubmit"))


def test_filters_accept_codes_and_spellings_and_refuse_the_rest() -> None:
    assert iserver.normalize_filters("Submitted,pre_submitted, Pending Submit,canceled") == {
        "submitted", "pre_submitted", "pending_submit", "cancelled"}  # fmt: skip
    with pytest.raises(ValueError, match="filters"):
        iserver.normalize_filters(["ApiPending"])  # IBKR has no filter code for it
    with pytest.raises(ValueError, match="filters"):
        iserver.normalize_filters(["bogus"])


def test_the_settlement_rule_never_reopens_a_terminal_row() -> None:
    for done in TERMINAL:
        assert next_status(done, "open") == done
    assert next_status("pending", "open") == "open"
    assert next_status("filled", "canceled") == "filled"


def test_the_page_spells_every_status_once() -> None:
    """One spelling on the page for IBKR's words (any of IBKR's spellings) and the log's words."""
    from axion_broker_ibkr.orders.status import LOG_STATUSES, status_label

    for word in ("Cancelled", "Canceled", "cancelled", "canceled", "CANCELLED"):
        assert status_label(word) == "Cancelled"
    assert status_label("Pre Submitted") == status_label("pre_submitted") == "PreSubmitted"
    assert status_label("filled") == status_label("Filled") == "Filled"
    assert status_label("declined") == "Declined"
    assert status_label("awaiting_answer") == "Awaiting answer"
    assert status_label(None) == status_label("") == ""
    assert {"awaiting_answer", "declined", "canceled", "open", "pending_submit"} <= set(LOG_STATUSES)
    assert len(set(LOG_STATUSES)) == len(LOG_STATUSES)
    assert all(status_label(s) and status_label(s) != s for s in LOG_STATUSES)
