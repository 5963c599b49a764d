"""Plain steps: a procedure written once, run by either client's driver.

Some procedures are longer than one core operation: they read the database, run operations
through the client, call the gateway monitor, then write the database again (contract resolution
with its persistent cache, start-up reconciliation, the session lifecycle). Each is written once,
as a generator that *yields* steps and *returns* its result, the shape of :mod:`axion_broker_ibkr.ops.iserver`
operations one level up:

* :class:`Call` -- a client or gateway method (``client.run``, ``client.live_orders``,
  ``gateway.start``): called, and awaited when it answers an awaitable (the async client's);
* :class:`Blocking` -- blocking work (the order log, the contract cache): run inline by
  :func:`run_steps`, in a worker thread by :func:`arun_steps`, so the event loop never waits on a
  disk flush.

:func:`run_steps` and :func:`arun_steps` are the only sync/async pair; an exception raised by a
step is thrown back into the procedure, which may handle it (as the core's drivers do).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from attrs import define, field

from .primitives import arun_blocking

T = TypeVar("T")


@define(frozen=True)
class Call:
    """Call ``fn(*args, **kwargs)`` (a client/gateway method); an awaitable answer is awaited."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(factory=dict)


@define(frozen=True)
class Blocking:
    """Blocking ``fn(*args)`` (database work): inline when sync, in a worker thread when async."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


Step = Call | Blocking
Steps = Generator[Step, Any, T]


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Call:
    """The :class:`Call` step ``fn(*args, **kwargs)``."""
    return Call(fn, args, kwargs)


def blocking(fn: Callable[..., Any], *args: Any) -> Blocking:
    """The :class:`Blocking` step ``fn(*args)``."""
    return Blocking(fn, args)


@define(frozen=True)
class _Done:
    value: Any


def _advance(steps: Steps[Any], answer: Any, error: BaseException | None) -> Step | _Done:
    """The procedure's next step, given the last step's answer (or error): or its result."""
    try:
        return steps.throw(error) if error is not None else steps.send(answer)
    except StopIteration as stop:
        return _Done(stop.value)


def run_steps(steps: Steps[T]) -> T:
    """Run ``steps`` with a synchronous client: every step in the calling thread."""
    answer: Any = None
    error: BaseException | None = None
    while not isinstance(step := _advance(steps, answer, error), _Done):
        answer, error = None, None
        try:
            answer = step.fn(*step.args, **(step.kwargs if isinstance(step, Call) else {}))
        except Exception as exc:  # thrown back into the procedure
            error = exc
    result: T = step.value
    return result


async def arun_steps(steps: Steps[T]) -> T:
    """Run ``steps`` with an asyncio client: calls awaited, blocking work in a worker thread."""
    answer: Any = None
    error: BaseException | None = None
    while not isinstance(step := _advance(steps, answer, error), _Done):
        answer, error = None, None
        try:
            if isinstance(step, Blocking):
                answer = await arun_blocking(step.fn, *step.args)
            else:
                answer = step.fn(*step.args, **step.kwargs)
                if inspect.isawaitable(answer):
                    answer = await answer
        except Exception as exc:  # thrown back into the procedure
            error = exc
    result: T = step.value
    return result
