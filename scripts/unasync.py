"""Generate the sync twins of the async modules (httpcore's way): ``python scripts/unasync.py``.

The async module is the one source. Its sync twin is produced by plain substitutions, in order:

1. blocks between ``# unasync: async-only`` and ``# unasync: end`` are dropped (an async-only
   alias such as ``AsyncIBKRClient.close``, whose sync counterpart the substitutions already give);
2. ``EXACT`` texts (the docstrings that say "asyncio" vs "threads") are replaced; each must occur
   exactly once, so an edited docstring fails loudly instead of leaking into the sync file;
3. ``TOKENS`` (regexes on word boundaries: ``async def`` -> ``def``, ``await `` -> nothing,
   ``AsyncIBKRClient`` -> ``IBKRClient``, ``asyncio.sleep`` -> ``time.sleep``, ...);
4. anything still async (``async``, ``await``, ``asyncio``, ``Async...``) is an error naming the
   line: add a token to the table, or a paired primitive to ``axion_broker_ibkr/drivers/primitives.py``;
5. a header saying the file is generated is prepended, and the text goes through ``ruff check
   --select I,F401 --fix`` (import order; imports only the async side used) and ``ruff format``
   (the project's pyproject settings).

Where the drivers really differ (threads vs the event loop), the difference lives in paired
primitives (``axion_broker_ibkr/drivers/primitives.py``), never in the generated file.

Usage::

    python scripts/unasync.py           # (re)write every sync twin
    python scripts/unasync.py --check   # exit 1 when a twin differs from what would be generated
    python scripts/unasync.py --diff    # like --check, and print the unified diff
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Applied to every pair, in this order (longer / more specific names first).
TOKENS: list[tuple[str, str]] = [
    (r"\bimport asyncio\n", "import threading\nimport time\n"),
    (r"\bhttpx\.AsyncClient\b", "httpx.Client"),
    (r"\bhttpx\.AsyncHTTPTransport\b", "httpx.HTTPTransport"),
    (r"\bAsyncIBKRClient\b", "IBKRClient"),
    (r"\bAsyncIBKRGateway\b", "IBKRGateway"),
    (r"\bAsyncSemaphores\b", "Semaphores"),
    (r"\bAsyncRepeater\b", "Repeater"),
    (r"\barun_blocking\b", "run_blocking"),
    (r"\basyncio\.Lock\b", "threading.Lock"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\b__aiter__\b", "__iter__"),
    (r"\b__anext__\b", "__next__"),
    (r"\bStopAsyncIteration\b", "StopIteration"),
    (r"\baclose\b", "close"),
    (r"\basync with\b", "with"),
    (r"\basync for\b", "for"),
    (r"\basync def\b", "def"),
    (r"\bawait ", ""),
]

#: What must not survive the substitutions (outside the ``EXACT`` texts, which are checked whole).
LEFTOVER = re.compile(r"\basync\b|\bawait\b|\basyncio\b|\bAsync[A-Z]\w*|\ba(?:run_|close\b)")

BLOCK_START = "# unasync: async-only"
BLOCK_END = "# unasync: end"


@dataclass(frozen=True)
class Pair:
    source: str  # relative to the repository root
    target: str
    exact: list[tuple[str, str]] = field(default_factory=list)


PAIRS: list[Pair] = [
    Pair(
        "axion_broker_ibkr/drivers/client_async.py",
        "axion_broker_ibkr/drivers/client_sync.py",
        exact=[
            (
                '"""``AsyncIBKRClient``: the asyncio driver of the I/O-free core (same method names, '
                "awaitable).\n\nImport it from :mod:`axion_broker_ibkr.client`. Blocking work (journal "
                "writes, certificate\nfetches, starting the embedded simulator) runs in worker "
                'threads."""',
                '"""``IBKRClient``: the synchronous driver of the I/O-free core (threads, ``time.sleep``).'
                '\n\nImport it from :mod:`axion_broker_ibkr.client`."""',
            ),
            (
                '"""Asyncio client with the same method names as :class:`IBKRClient` (awaitable)."""',
                '"""Synchronous client. Thread-safe for reads; orders are serialised (IBKR forbids '
                'interleaving\n    another order while a question is pending)."""',
            ),
        ],
    ),
    Pair(
        "axion_broker_ibkr/drivers/gateway_async.py",
        "axion_broker_ibkr/drivers/gateway_sync.py",
        exact=[
            (
                '"""``AsyncIBKRGateway``: health and keep-alive for an :class:`AsyncIBKRClient` (an asyncio '
                "task).\n\nImport it from :mod:`axion_broker_ibkr.gateway`. This file is the one source: "
                '``gateway_sync.py``\nis generated from it by ``scripts/unasync.py``."""',
                '"""``IBKRGateway``: health and keep-alive for a synchronous :class:`IBKRClient` (a daemon '
                'thread).\n\nImport it from :mod:`axion_broker_ibkr.gateway`."""',
            ),
            (
                '"""Health and keep-alive for an :class:`AsyncIBKRClient` (keep-alive as an asyncio '
                'task)."""',
                '"""Health and keep-alive for a synchronous :class:`IBKRClient` (keep-alive on a daemon '
                'thread)."""',
            ),
            (
                "# listeners may block (a database write): a worker thread",
                "# each listener runs here, on the keep-alive's thread",
            ),
        ],
    ),
]


class UnasyncError(Exception):
    """The source cannot be turned into its sync twin by the tables above."""


def header(pair: Pair) -> str:
    return (
        f"# GENERATED FILE, do not edit: made from {pair.source} by scripts/unasync.py.\n"
        f"# Edit {Path(pair.source).name}, then run `python scripts/unasync.py` "
        "(`--check` verifies; the test suite runs it).\n"
    )


def drop_async_only(text: str, source: str) -> str:
    out: list[str] = []
    inside = False
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = line.strip()
        if stripped.startswith(BLOCK_START):
            if inside:
                raise UnasyncError(f"{source}:{number}: nested {BLOCK_START!r}")
            inside = True
        elif stripped.startswith(BLOCK_END):
            if not inside:
                raise UnasyncError(f"{source}:{number}: {BLOCK_END!r} without {BLOCK_START!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise UnasyncError(f"{source}: {BLOCK_START!r} never closed by {BLOCK_END!r}")
    return "".join(out)


def substitute(text: str, pair: Pair) -> str:
    text = drop_async_only(text, pair.source)
    placeholders: dict[str, str] = {}
    for index, (old, new) in enumerate(pair.exact):
        count = text.count(old)
        if count != 1:
            raise UnasyncError(
                f"{pair.source}: expected the text {old[:60]!r}... exactly once, found it {count} times "
                "(edit the EXACT table in scripts/unasync.py with the docstring)"
            )
        key = f"@@UNASYNC_EXACT_{index}@@"  # the substitutions must not touch the sync text
        placeholders[key] = new
        text = text.replace(old, key)
    for pattern, replacement in TOKENS:
        text = re.sub(pattern, replacement, text)
    problems = [
        f"{pair.source} -> line {number}: {line.strip()}"
        for number, line in enumerate(text.splitlines(), 1)
        if LEFTOVER.search(line)
    ]
    if problems:
        raise UnasyncError(
            "left async after the substitutions (add a token to TOKENS or a paired primitive):\n  "
            + "\n  ".join(problems)
        )
    for key, new in placeholders.items():
        text = text.replace(key, new)
    return header(pair) + text


def ruff(args: list[str], text: str, target: str) -> str:
    cmd = [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(ROOT / target), "-"]
    done = subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise UnasyncError(f"{' '.join(cmd[2:4])} failed on the generated {target}:\n{done.stderr}")
    return done.stdout


def generate(pair: Pair) -> str:
    text = substitute((ROOT / pair.source).read_text(encoding="utf-8"), pair)
    text = ruff(["check", "--select", "I,F401", "--fix", "--quiet"], text, pair.target)
    return ruff(["format", "--quiet"], text, pair.target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a sync twin is out of date")
    parser.add_argument("--diff", action="store_true", help="as --check, and print the diff")
    args = parser.parse_args(argv)
    stale = []
    for pair in PAIRS:
        try:
            wanted = generate(pair)
        except UnasyncError as exc:
            print(f"unasync: {exc}", file=sys.stderr)
            return 2
        path = ROOT / pair.target
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == wanted:
            continue
        if args.check or args.diff:
            stale.append(pair.target)
            if args.diff:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        current.splitlines(keepends=True),
                        wanted.splitlines(keepends=True),
                        f"{pair.target} (on disk)",
                        f"{pair.target} (generated from {pair.source})",
                    )
                )
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"unasync: wrote {pair.target} (from {pair.source})")
    if stale:
        print(
            "unasync: out of date (edit the async source, then run python scripts/unasync.py): "
            + ", ".join(stale),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
