"""The request loop as an I/O-free operation (:mod:`axion_broker_ibkr.ops.requestpolicy`), driven with
plain values: no sockets, no httpx responses, no clock."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from axion_broker_ibkr.drivers.client_base import answer_of, failure_of
from axion_broker_ibkr.drivers.pacing import RetryPolicy
from axion_broker_ibkr.errors import (
    BrokerageSessionError,
    GatewayUnavailableError,
    NotAuthenticatedError,
    NotSentError,
    OAuthError,
    RateLimitedError,
    SessionPreconditionError,
    delivery_of,
)
from axion_broker_ibkr.ops import effects
from axion_broker_ibkr.ops import requestpolicy as rp

GET = effects.Request(method="GET", path="/portfolio/U1234567/positions/0")
ORDER = effects.Request(method="POST", path="/iserver/account/DU1234567/orders", json={}, idempotent=False)
ACCOUNTS = effects.Request(method="GET", path="/iserver/accounts")
NO_BRIDGE = {"error": "Bad Request: no bridge", "statusCode": 400}
RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=4.0, jitter=lambda: 0.0)
POLICY = rp.Policy(retry=RETRY, login_url="https://localhost:5000/", base_url="https://localhost:5000/v1/api")


def answer(
    status: int, data: Any = None, headers: dict[str, str] | None = None, at: float = 0.0
) -> rp.Answer:
    return rp.Answer(status_code=status, data=data, headers=headers or {}, received_at=at)


def refused() -> rp.TransportFailure:
    return rp.TransportFailure(kind="connect", name="ConnectError", detail="[Errno 111] Connection refused")


def read_timeout() -> rp.TransportFailure:
    return rp.TransportFailure(kind="read-timeout", name="ReadTimeout", detail="timed out")


def drive(
    req: effects.Request, outcomes: Sequence[rp.Outcome], policy: rp.Policy = POLICY
) -> tuple[list[rp.Step], effects.Response | Exception]:
    """Run one request's flow: every :class:`Send` gets the next outcome. Returns the steps it
    yielded and its response, or the exception it raised."""
    flow = rp.request_flow(req, policy)
    left = list(outcomes)
    steps: list[rp.Step] = []
    to_send: Any = None
    while True:
        try:
            step = flow.send(to_send)
        except StopIteration as stop:
            assert not left, f"outcomes not asked for: {left}"
            return steps, stop.value
        except Exception as exc:  # the flow's verdict
            assert not left, f"outcomes not asked for: {left}"
            return steps, exc
        steps.append(step)
        to_send = left.pop(0) if isinstance(step, rp.Send) else None
        if isinstance(step, rp.Untrusted):
            return steps, NotSentError("untrusted")  # the driver raises here


def kinds(steps: Sequence[rp.Step]) -> list[str]:
    return [type(s).__name__ + (f"#{s.attempt}" if isinstance(s, rp.Send) else "") for s in steps]


# ---------------------------------------------------------------------------------------- success


def test_a_success_is_returned_after_one_send() -> None:
    steps, result = drive(GET, [answer(200, [{"conid": 265598}])])
    assert kinds(steps) == ["Send#1"]
    assert result == effects.Response(200, [{"conid": 265598}], "")


def test_an_ok_status_of_the_request_is_handed_back_not_raised() -> None:
    req = effects.Request(method="GET", path="/iserver/marketdata/history", ok_statuses=frozenset({404}))
    _, result = drive(req, [answer(404, {"error": "no data"})])
    assert isinstance(result, effects.Response) and result.status_code == 404


# ---------------------------------------------------------------------------------------- 429


def test_429_with_retry_after_tells_the_pacer_its_seconds_and_is_not_retried() -> None:
    steps, result = drive(GET, [answer(429, {"error": "Too Many Requests"}, {"retry-after": "7"})])
    assert kinds(steps) == ["Send#1", "Penalize"]
    assert steps[1] == rp.Penalize(GET, 7.0)
    assert isinstance(result, RateLimitedError) and result.status_code == 429
    assert delivery_of(result) == "refused"


def test_429_with_an_http_date_retry_after_is_measured_from_when_the_answer_came() -> None:
    at = datetime(2026, 12, 3, 15, 0, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 12, 3, 15, 0, 30, tzinfo=UTC), usegmt=True)
    steps, _ = drive(GET, [answer(429, None, {"retry-after": later}, at=at)])
    assert steps[1] == rp.Penalize(GET, 30.0)


def test_429_without_retry_after_leaves_the_back_off_to_the_pacer() -> None:
    steps, result = drive(ORDER, [answer(429, None)])
    assert kinds(steps) == ["Send#1", "Penalize"]
    assert steps[1] == rp.Penalize(ORDER, None)
    assert isinstance(result, RateLimitedError)


@pytest.mark.parametrize(
    ("value", "expected"), [("12", 12.0), ("0.5", 0.5), ("", None), (None, None), ("soon", None)]
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    assert rp.parse_retry_after(value, now=0.0) == expected


def test_a_retry_after_date_in_the_past_is_zero() -> None:
    past = format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    assert rp.parse_retry_after(past, now=datetime(2026, 1, 1, tzinfo=UTC).timestamp()) == 0.0


# ---------------------------------------------------------------------------------------- sessions


def test_401_raises_at_once_a_human_must_log_in_so_no_reauthentication() -> None:
    steps, result = drive(GET, [answer(401, None)])
    assert kinds(steps) == ["Send#1"]
    assert isinstance(result, NotAuthenticatedError) and not isinstance(result, OAuthError)
    assert "https://localhost:5000/" in str(result)  # the login URL


def test_401_of_an_oauth_signed_request_is_ibkr_refusing_the_signature() -> None:
    policy = rp.Policy(retry=RETRY, oauth=True)
    _, result = drive(GET, [answer(401, {"error": "invalid signature"})], policy)
    assert isinstance(result, OAuthError) and "invalid signature" in str(result)


def test_no_bridge_reauthenticates_once_then_the_error() -> None:
    steps, result = drive(GET, [answer(400, NO_BRIDGE), answer(400, NO_BRIDGE)])
    assert kinds(steps) == ["Send#1", "Reauthenticate", "Send#2"]
    assert isinstance(result, BrokerageSessionError)


def test_no_bridge_then_success_after_the_reauthentication() -> None:
    steps, result = drive(GET, [answer(400, NO_BRIDGE), answer(200, {"ok": True})])
    assert kinds(steps) == ["Send#1", "Reauthenticate", "Send#2"]
    assert result == effects.Response(200, {"ok": True}, "")


def test_an_order_is_not_resent_after_no_bridge_but_is_after_a_precondition_refusal() -> None:
    steps, result = drive(ORDER, [answer(400, NO_BRIDGE)])
    assert kinds(steps) == ["Send#1"] and isinstance(result, BrokerageSessionError)
    first = answer(400, {"error": "Please query /accounts first"})
    steps, result = drive(ORDER, [first, answer(200, [{"order_id": "1"}])])
    assert kinds(steps) == ["Send#1", "Reauthenticate", "Send#2"]
    assert isinstance(result, effects.Response)
    steps, result = drive(ORDER, [first, first])
    assert kinds(steps) == ["Send#1", "Reauthenticate", "Send#2"]
    assert isinstance(result, SessionPreconditionError)


def test_the_start_up_sequences_own_account_read_does_not_reauthenticate() -> None:
    steps, _ = drive(ACCOUNTS, [answer(400, NO_BRIDGE), answer(200, {})])
    assert kinds(steps) == ["Send#1", "Reauthenticate", "Send#2"]
    rebuilding = rp.Policy(retry=RETRY, rebuilding_session=True)
    steps, result = drive(ACCOUNTS, [answer(400, NO_BRIDGE)], rebuilding)
    assert kinds(steps) == ["Send#1"] and isinstance(result, BrokerageSessionError)
    init = effects.Request(method="POST", path="/iserver/auth/ssodh/init", json={})
    steps, result = drive(init, [answer(400, NO_BRIDGE)])
    assert kinds(steps) == ["Send#1"] and isinstance(result, BrokerageSessionError)


# ---------------------------------------------------------------------------------------- transport


def test_connect_refused_on_an_order_post_is_not_sent_and_not_retried() -> None:
    steps, result = drive(ORDER, [refused()])
    assert kinds(steps) == ["Send#1"]
    assert isinstance(result, NotSentError) and delivery_of(result) == "not_sent"
    assert "https://localhost:5000/v1/api" in str(result) and "Connection refused" in str(result)


def test_a_read_timeout_on_an_order_post_is_ambiguous_and_not_retried() -> None:
    steps, result = drive(ORDER, [read_timeout()])
    assert kinds(steps) == ["Send#1"]
    assert isinstance(result, GatewayUnavailableError) and delivery_of(result) == "ambiguous"
    assert "no answer in time" in str(result)


def test_a_connection_lost_after_sending_is_ambiguous() -> None:
    lost = rp.TransportFailure(kind="protocol", name="RemoteProtocolError", detail="disconnected")
    _, result = drive(ORDER, [lost])
    assert isinstance(result, GatewayUnavailableError) and delivery_of(result) == "ambiguous"
    assert "failed during POST" in str(result)


@pytest.mark.parametrize("kind", sorted(rp.NOT_SENT_KINDS - {"certificate"}))
def test_every_not_sent_kind_says_not_sent(kind: str) -> None:
    _, result = drive(ORDER, [rp.TransportFailure(kind=kind, name="X")])  # type: ignore[arg-type]
    assert delivery_of(result) == "not_sent"  # type: ignore[arg-type]


def test_an_idempotent_read_is_retried_after_a_transport_failure() -> None:
    steps, result = drive(GET, [refused(), read_timeout(), answer(200, [])])
    assert kinds(steps) == ["Send#1", "Sleep", "Send#2", "Sleep", "Send#3"]
    assert [s.seconds for s in steps if isinstance(s, effects.Sleep)] == [0.5, 1.0]  # RETRY, no jitter
    assert result == effects.Response(200, [], "")


def test_an_untrusted_certificate_is_never_retried() -> None:
    failure = rp.TransportFailure(kind="certificate", name="ConnectError", detail="verify failed")
    steps, _ = drive(GET, [failure])
    assert kinds(steps) == ["Send#1", "Untrusted"] and steps[1] == rp.Untrusted(failure)


def test_a_transport_failure_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="kind"):
        rp.TransportFailure(kind="exploded")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- 5xx, limits


def test_5xx_is_retried_for_an_idempotent_request() -> None:
    steps, result = drive(GET, [answer(503, None), answer(200, {"a": 1})])
    assert kinds(steps) == ["Send#1", "Sleep", "Send#2"]
    assert result == effects.Response(200, {"a": 1}, "")


def test_5xx_on_an_order_post_is_raised_at_once_as_ambiguous() -> None:
    steps, result = drive(ORDER, [answer(503, {"error": "busy"})])
    assert kinds(steps) == ["Send#1"]
    assert isinstance(result, GatewayUnavailableError) and delivery_of(result) == "ambiguous"


def test_a_status_not_in_the_retry_list_is_raised_at_once() -> None:
    steps, result = drive(GET, [answer(501, None)])
    assert kinds(steps) == ["Send#1"] and isinstance(result, GatewayUnavailableError)


def test_attempts_stop_at_the_retry_rules_limit() -> None:
    steps, result = drive(GET, [answer(503, None)] * 3)
    assert kinds(steps) == ["Send#1", "Sleep", "Send#2", "Sleep", "Send#3"]
    assert isinstance(result, GatewayUnavailableError)
    one = rp.Policy(retry=RetryPolicy(max_attempts=1))
    steps, result = drive(GET, [refused()], one)
    assert kinds(steps) == ["Send#1"] and isinstance(result, NotSentError)


def test_decide_is_a_function_of_request_outcome_and_attempt() -> None:
    assert rp.decide(GET, answer(502, None), 1, POLICY) == rp.Decision("retry", 0.5)
    assert rp.decide(GET, answer(502, None), 2, POLICY) == rp.Decision("retry", 1.0)
    assert rp.decide(GET, answer(502, None), 3, POLICY).action == "raise"
    assert rp.decide(GET, answer(400, NO_BRIDGE), 1, POLICY, reauthed=True).action == "raise"
    assert rp.decide(GET, answer(204, None), 1, POLICY) == rp.Decision("return")


# ---------------------------------------------------------------------------------------- observations


def test_the_servers_clock_and_the_sessions_state_are_read_from_plain_values() -> None:
    date = format_datetime(datetime(2026, 12, 3, 15, 0, 10, tzinfo=UTC), usegmt=True)
    at = datetime(2026, 12, 3, 15, 0, 0, tzinfo=UTC).timestamp()
    assert rp.server_offset(answer(200, None, {"date": date}, at=at)) == 10.5
    assert rp.server_offset(answer(200, None, {"date": "garbage"})) is None
    assert rp.server_offset(answer(200, None)) is None
    tickle = effects.Request(method="POST", path="/tickle", json={})
    authed = {"iserver": {"authStatus": {"authenticated": True, "competing": False}}}
    assert rp.says_authenticated(tickle, effects.Response(200, authed))
    assert not rp.says_authenticated(tickle, effects.Response(200, {"iserver": {}}))
    status = effects.Request(method="POST", path="/iserver/auth/status", json={})
    assert not rp.says_authenticated(
        status, effects.Response(200, {"authenticated": True, "competing": True})
    )
    assert not rp.says_authenticated(GET, effects.Response(200, {"authenticated": True}))


# ---------------------------------------------------------------------------------------- the boundary


def _req() -> httpx.Request:
    return httpx.Request("POST", "https://localhost:5000/v1/api/iserver/account/DU1/orders")


@pytest.mark.parametrize(
    ("exc", "kind", "delivery"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused", request=_req()), "connect", "not_sent"),
        (httpx.ConnectTimeout("timed out", request=_req()), "connect-timeout", "not_sent"),
        (httpx.PoolTimeout("no slot", request=_req()), "pool-timeout", "not_sent"),
        (httpx.UnsupportedProtocol("ftp", request=_req()), "unsupported-protocol", "not_sent"),
        (httpx.ReadTimeout("timed out", request=_req()), "read-timeout", "ambiguous"),
        (httpx.WriteTimeout("timed out", request=_req()), "write-timeout", "ambiguous"),
        (httpx.ReadError("reset", request=_req()), "read", "ambiguous"),
        (httpx.RemoteProtocolError("disconnected", request=_req()), "protocol", "ambiguous"),
        (httpx.DecodingError("bad gzip", request=_req()), "other", "ambiguous"),
    ],
)
def test_the_driver_boundary_classifies_httpx_errors(exc: httpx.HTTPError, kind: str, delivery: str) -> None:
    failure = failure_of(exc)
    assert failure.kind == kind and failure.name == type(exc).__name__ and failure.cause is exc
    _, result = drive(ORDER, [failure])
    assert delivery_of(result) == delivery  # type: ignore[arg-type]


def test_the_driver_boundary_tells_a_certificate_from_another_tls_failure() -> None:
    def wrapped(inner: BaseException) -> httpx.ConnectError:
        try:
            try:
                raise inner
            except ssl.SSLError as e:
                raise httpx.ConnectError(str(e), request=_req()) from e
        except httpx.ConnectError as outer:
            return outer

    assert failure_of(wrapped(ssl.SSLCertVerificationError("self-signed"))).kind == "certificate"
    assert failure_of(wrapped(ssl.SSLError("handshake failure"))).kind == "tls"


def test_the_driver_boundary_makes_an_answer_of_an_httpx_response() -> None:
    raw = httpx.Response(429, headers={"Retry-After": "5", "Date": "x"}, json={"error": "slow down"})
    got = answer_of(raw)
    assert got.status_code == 429 and got.headers["retry-after"] == "5" and got.headers["date"] == "x"
    assert got.data == {"error": "slow down"} and got.text == "" and got.received_at > 0
    page = answer_of(httpx.Response(404, text="<html>Resource not found</html>"))
    assert page.data is None and page.text.startswith("<html>")
    assert answer_of(httpx.Response(200)).response == effects.Response(200, None, "")
