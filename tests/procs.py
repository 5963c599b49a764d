"""Child processes of the test session, from ``/proc`` (Linux; elsewhere the helpers see none).

Every process a test starts inherits :data:`SESSION_MARK` in its environment (set by
``tests/conftest.py``), so the session-end check finds it even after it was re-parented to init.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

#: Environment variable naming this test session; inherited by every process the tests start.
SESSION_MARK = "AXION_TEST_SESSION"
_PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid``, or ``None`` when it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, does not count)."""
    st = _stat(pid)
    return st is not None and st[0] not in {"Z", "X"}


def _pids() -> list[int]:
    if not _PROC.is_dir():
        return []
    return [int(p.name) for p in _PROC.iterdir() if p.name.isdigit()]


def descendants(pid: int) -> list[int]:
    """Every living process below ``pid`` (children, grandchildren, ...)."""
    parents: dict[int, list[int]] = {}
    for child in _pids():
        st = _stat(child)
        if st is not None and st[0] not in {"Z", "X"}:
            parents.setdefault(st[1], []).append(child)
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def marked_processes(mark: str, exclude: tuple[int, ...] = ()) -> list[tuple[int, str]]:
    """(pid, command line) of living processes whose environment has ``SESSION_MARK=mark``."""
    needle = f"{SESSION_MARK}={mark}".encode()
    found: list[tuple[int, str]] = []
    for pid in _pids():
        if pid in exclude or not alive(pid):
            continue
        try:
            env = (_PROC / str(pid) / "environ").read_bytes()
            cmd = (_PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            found.append((pid, cmd.replace(b"\0", b" ").decode(errors="replace").strip()))
    return found


def kill(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_tree(proc: subprocess.Popen[Any], timeout: float = 20.0) -> list[int]:
    """SIGTERM ``proc``, wait for it, then SIGKILL whatever it started that is still alive (its
    whole tree, found before the signal). Returns the pids that had to be killed."""
    tree = descendants(proc.pid)
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(alive(p) for p in tree):
        time.sleep(0.1)
    left = [p for p in tree if alive(p)]
    kill(left)
    return left
