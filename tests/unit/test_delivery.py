"""Order-path errors say whether the order left (``delivery``), and the order flow decides on that
value alone: the order log's status is a function of ``delivery``, not of which ``except`` clause
happens to come first. The flow is driven here without a client (it is I/O-free): the POST effect
is answered by throwing an error into it, and the journal effects it yields are collected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from axion_broker_ibkr import errors
from axion_broker_ibkr import models as m
from axion_broker_ibkr.errors import (
    DELIVERIES,
    GatewayConnectionError,
    GatewayError,
    GatewayUnavailableError,
    NotAuthenticatedError,
    NotSentError,
    OrderRejectedError,
    OrderStateUnknownError,
    QuestionRefusedError,
    RateLimitedError,
    UntrustedCertificateError,
    delivery_of,
)
from axion_broker_ibkr.ops import effects as fx
from axion_broker_ibkr.ops import orderpath
from axion_broker_ibkr.ops.journal import ModificationRef

ACCOUNT = "DU1234567"
PAYLOAD = {"cOID": "AX-1", "conid": 265598, "side": "BUY", "orderType": "LMT", "quantity": 5, "price": 1.0}
CONTRACT = {"conid": 265598, "symbol": "AAPL", "sec_type": "STK"}
CTX = orderpath.OrderContext(account_id=ACCOUNT, mode="paper", auto_confirm=frozenset(), max_rounds=5)


def _state() -> fx.SessionState:
    return fx.SessionState(accounts=m.IServerAccounts(accounts=[ACCOUNT], selected_account=ACCOUNT))


def _drive(
    op: fx.Op[Any], on_post: Callable[[fx.Request], Any], live: Any = ()
) -> tuple[list[Any], list[str], Any]:
    """Run an operation: order/modify POSTs go to ``on_post`` (an exception is thrown into the
    flow), live-order lookups answer ``live``. Returns (journal effects, request paths, outcome)."""
    effects: list[Any] = []
    paths: list[str] = []
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = op.throw(error) if error is not None else op.send(value)
        except StopIteration as stop:
            return effects, paths, stop.value
        except Exception as exc:  # the flow's own raise
            return effects, paths, exc
        value, error = None, None
        if isinstance(effect, fx.Request):
            paths.append(effect.path)
            if effect.method == "POST" and "/order" in effect.path:
                try:
                    value = fx.Response(200, on_post(effect))
                except Exception as exc:
                    error = exc
            else:
                value = fx.Response(200, live if live else [])
        else:
            effects.append(effect)
            if isinstance(effect, fx.RecordModification):
                value = ModificationRef(id=1, client_order_id="AX-1")


def _raiser(exc: BaseException) -> Callable[[fx.Request], Any]:
    def post(_req: fx.Request) -> Any:
        raise exc

    return post


def _place(exc: BaseException) -> tuple[list[str], list[str], Any]:
    effects, paths, outcome = _drive(orderpath.place_order(_state(), PAYLOAD, CONTRACT, CTX), _raiser(exc))
    statuses = [e.status for e in effects if isinstance(e, fx.RecordResult)]
    return statuses, paths, outcome


def _modify(exc: BaseException) -> tuple[list[str], Any]:
    effects, _paths, outcome = _drive(
        orderpath.modify_order_held(_state(), "1234567890", PAYLOAD, CTX, coid="AX-1"), _raiser(exc)
    )
    if isinstance(outcome, tuple):  # (result, held): nothing is held without ``hold``
        outcome = outcome[0]
    return [e.status for e in effects if isinstance(e, fx.SettleModification)], outcome


# ---------------------------------------------------------------------------------------- hierarchy


def test_never_sent_is_not_a_kind_of_possibly_sent() -> None:
    # The openai-python split: both are "no usable answer", siblings; an ``except
    # GatewayUnavailableError`` (possibly sent) can never catch a never-sent request.
    assert not issubclass(NotSentError, GatewayUnavailableError)
    assert not issubclass(GatewayUnavailableError, NotSentError)
    assert issubclass(NotSentError, GatewayConnectionError)
    assert issubclass(GatewayUnavailableError, GatewayConnectionError)
    assert issubclass(UntrustedCertificateError, NotSentError)


@pytest.mark.parametrize(
    ("exc", "delivery"),
    [
        (NotSentError("could not reach"), "not_sent"),
        (UntrustedCertificateError("certificate not trusted"), "not_sent"),
        (GatewayUnavailableError("no answer in time"), "ambiguous"),
        (GatewayUnavailableError("gateway error: 503", status_code=503), "ambiguous"),
        (GatewayError("gateway refused the request", status_code=400), "refused"),
        (NotAuthenticatedError("not logged in", status_code=401), "refused"),
        (RateLimitedError("rate limit", status_code=429), "refused"),
        (OrderRejectedError("IBKR rejected the order"), "refused"),
        (QuestionRefusedError("o163 not allowed", message_ids=["o163"]), "refused"),
        (OrderStateUnknownError("state unknown", client_order_id="AX-1"), "ambiguous"),
        (errors.LiveTradingNotAllowedError("live account"), "not_sent"),
        (errors.ModeError("fallback"), "not_sent"),
        (errors.DuplicateOrderError("AX-1"), "not_sent"),
    ],
)
def test_every_order_path_error_says_whether_it_left(exc: BaseException, delivery: str) -> None:
    assert delivery_of(exc) == delivery
    assert delivery in DELIVERIES


def test_delivery_can_be_given_per_instance_and_is_checked() -> None:
    assert GatewayError("x", delivery="ambiguous").delivery == "ambiguous"
    assert GatewayError("y").delivery == "refused"  # the instance did not change the class
    with pytest.raises(ValueError, match="delivery"):
        GatewayError("z", delivery="maybe")  # type: ignore[arg-type]
    assert delivery_of(ValueError("a bug")) is None


# ------------------------------------------------------------------------ the decision is delivery


@pytest.mark.parametrize("cls", [NotSentError, GatewayUnavailableError, GatewayError, OrderRejectedError])
@pytest.mark.parametrize("delivery", sorted(DELIVERIES))
def test_the_order_log_status_is_a_function_of_delivery_not_of_the_class(cls: type, delivery: str) -> None:
    """Every error class with every delivery: the row depends on the delivery only. (With the old
    class-ordered ``except`` chain a NotSentError that said "ambiguous", or a
    GatewayUnavailableError that said "not_sent", would be settled by its class.)"""
    exc = cls("failure")
    exc.delivery = delivery
    statuses, paths, outcome = _place(exc)
    looked_up = any(p == "/iserver/account/orders" for p in paths)
    if delivery == "ambiguous":
        assert statuses == ["submitted_unconfirmed", orderpath.UNKNOWN_AT_BROKER]
        assert looked_up and isinstance(outcome, OrderStateUnknownError)
    else:
        assert statuses == ["rejected"] and not looked_up and outcome is exc
    mod_statuses, mod_outcome = _modify(exc)
    assert mod_statuses == [orderpath.MODIFY_FAILURE_STATUS[delivery]]  # type: ignore[index]
    assert mod_outcome is exc


def test_a_question_not_answered_yes_is_declined_never_rejected() -> None:
    exc = QuestionRefusedError("o163 not allowed", message_ids=["o163"])
    statuses, _paths, outcome = _place(exc)
    assert statuses == [orderpath.DECLINED] and outcome is exc
    assert _modify(exc) == (["refused"], exc)


def test_failure_status_table() -> None:
    fs = orderpath.failure_status
    assert fs(NotSentError("x"), modification=False) == ("not_sent", "rejected")
    assert fs(NotSentError("x"), modification=True) == ("not_sent", "not_sent")
    assert fs(GatewayUnavailableError("x"), modification=False) == ("ambiguous", "submitted_unconfirmed")
    assert fs(GatewayUnavailableError("x"), modification=True) == ("ambiguous", "unknown_at_broker")
    assert fs(RateLimitedError("x"), modification=True) == ("refused", "rejected")
    assert fs(errors.WireFormatError("unreadable"), modification=False) is None


def test_an_error_that_does_not_say_is_left_alone() -> None:
    # A parse failure has no delivery: the flow neither settles nor looks up; it propagates.
    exc = errors.WireFormatError("unreadable order reply")
    statuses, paths, outcome = _place(exc)
    assert statuses == [] and outcome is exc and "/iserver/account/orders" not in paths


def test_an_ambiguous_failure_found_by_its_coid_is_reported_placed() -> None:
    found = [{"orderId": 77, "order_ref": "AX-1", "status": "Submitted", "acct": ACCOUNT}]
    effects, _paths, result = _drive(
        orderpath.place_order(_state(), PAYLOAD, CONTRACT, CTX),
        _raiser(GatewayUnavailableError("no answer in time")),
        live={"orders": found},
    )
    assert isinstance(result, m.OrderResult) and result.order_id == "77"
    statuses = [e.status for e in effects if isinstance(e, fx.RecordResult)]
    assert statuses == ["submitted_unconfirmed", result.status] and result.status != "rejected"
