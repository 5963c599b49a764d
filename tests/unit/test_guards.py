"""Guards the suite used to be blind to: questions without message ids, and pacers built for more
than IBKR's 10 requests per second. (The auto-mode fallback guard on an account named in the order:
tests/client/test_sim_faults.py::test_auto_mode_fallback_refuses_an_account_named_in_the_order.)"""

from __future__ import annotations

import bisect

import pytest

from axion_broker_ibkr.drivers.pacing import MAX_PER_SECOND, Pacer
from axion_broker_ibkr.ops.orderpath import OrderContext


def ctx(*, auto: tuple[str, ...] = (), confirm: tuple[str, ...] = ()) -> OrderContext:
    return OrderContext(account_id="DU1234567", mode="sim", auto_confirm=frozenset(auto), max_rounds=5,
                        confirm=frozenset(confirm))  # fmt: skip


@pytest.mark.parametrize("ids", [(), []])
def test_a_question_without_message_ids_is_never_answered_yes(ids: tuple[str, ...]) -> None:
    everything = ("o163", "o354", "o10151", "o403", "p12")
    assert ctx(auto=everything, confirm=everything).answers_yes(ids) is False


def test_every_message_id_must_be_allowed() -> None:
    assert ctx(auto=("o163",)).answers_yes(["o163"]) is True
    assert ctx(auto=("o163",)).answers_yes(["o163", "o354"]) is False
    assert ctx(auto=("o163",), confirm=("o354",)).answers_yes(["o163", "o354"]) is True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _send_times(pacer: Pacer, clock: FakeClock, count: int, step: float) -> list[float]:
    times = []
    for _ in range(count):
        times.append(clock.now + pacer.reserve("GET", "/iserver/account/trades/unpaced-test"))
        clock.now += step
    return sorted(times)


def _busiest_second(times: list[float]) -> int:
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


@pytest.mark.parametrize("per_minute", [601, 900, 6000, 1_000_000])
@pytest.mark.parametrize("step", [0.0, 0.01, 0.3])
def test_a_pacer_built_directly_above_600_per_minute_stays_within_10_per_second(
    per_minute: int, step: float
) -> None:
    clock = FakeClock()
    pacer = Pacer(per_minute, clock=clock)
    times = _send_times(pacer, clock, 200, step)
    assert pacer.rule_for("GET", "/iserver/account/trades/unpaced-test") is None  # only the global cap
    assert _busiest_second(times) <= MAX_PER_SECOND
    if step == 0.0:
        assert _busiest_second(times) >= MAX_PER_SECOND - 1  # it paces, not stalls
