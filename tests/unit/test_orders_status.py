"""IBKR order status -> host status: honest, never ``filled`` unless IBKR says so and sizes agree."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axion_broker_ibkr.orders import host_order_status
from tests.conftest import load_fixture

HOST_STATUSES = {
    "pending",
    "open",
    "partially_filled",
    "filled",
    "canceled",
    "rejected",
    "expired",
    "replaced",
}


@pytest.mark.parametrize(
    ("status", "filled", "total", "expected"),
    [
        ("PendingSubmit", 0, 100, "pending"),
        ("Pending Submit", 0, 100, "pending"),
        ("pending_submit", 0, 100, "pending"),
        ("PreSubmitted", 0, 100, "open"),
        ("Pre Submitted", 0, 100, "open"),
        ("PreSubmitted", 40, 100, "partially_filled"),
        ("Submitted", 0, 100, "open"),
        ("SUBMITTED", 99.5, 100, "partially_filled"),
        ("Submitted", 100, 100, "open"),  # IBKR has not said Filled yet: still open
        ("WarnState", 0, 10, "open"),
        ("PendingCancel", 0, 10, "open"),
        ("PendingCancel", 3, 10, "partially_filled"),
        ("Filled", 100, 100, "filled"),
        ("Filled", 0, 0, "filled"),
        ("Filled", 60, 100, "partially_filled"),
        ("Cancelled", 0, 100, "canceled"),
        ("Cancelled", 30, 100, "canceled"),
        ("Inactive", 0, 100, "rejected"),
        ("Expired", 0, 100, "expired"),
        (None, 0, 100, "pending"),
        ("", 0, 100, "pending"),
        ("2", 0, 100, "pending"),  # numeric order_ccp_status: unknown, never filled
        ("Filled-ish", 100, 100, "pending"),
        ("Filled 2", 100, 100, "pending"),
        ("Mystery", 5, 10, "partially_filled"),
        ("Submitted", float("nan"), float("inf"), "open"),
    ],
)
def test_status_table(status: str | None, filled: float, total: float, expected: str) -> None:
    assert host_order_status(status, filled, total) == expected


def test_unknown_status_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="axion_broker_ibkr.orders.status"):
        assert host_order_status("Frobnicated", 0, 1) == "pending"
    assert "Frobnicated" in caplog.text


def test_statuses_of_the_reference_examples() -> None:
    listed = load_fixture("live_orders")["orders"][0]
    assert host_order_status(listed["status"], listed["filledQuantity"], listed["totalSize"]) == "filled"
    status = load_fixture("order_status")  # Filled, cum_fill "5.0" of total_size "5.0"
    assert host_order_status(
        status["order_status"], float(status["cum_fill"]), float(status["total_size"])
    ) == ("filled")


@given(
    status=st.one_of(
        st.none(), st.text(max_size=20), st.sampled_from(["PreSubmitted", "Submitted", "Filled"])
    ),
    filled=st.floats(allow_nan=True, allow_infinity=True),
    total=st.floats(allow_nan=True, allow_infinity=True),
)
def test_never_claims_a_fill_it_cannot_see(status: str | None, filled: float, total: float) -> None:
    result = host_order_status(status, filled, total)
    assert result in HOST_STATUSES
    if result == "filled":
        assert status is not None and "".join(c for c in status if c not in " _-\t").lower() == "filled"
    if status in ("PreSubmitted", "Submitted"):
        assert result in ("open", "partially_filled")
