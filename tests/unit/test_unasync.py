"""``client_sync.py`` is generated from ``client_async.py`` by ``scripts/unasync.py``: a hand edit of
the sync file (or an async edit not regenerated) fails here, as it would in CI."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_check_passes_on_the_repository() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_sync_twin_says_it_is_generated_and_from_what() -> None:
    unasync = _load()
    for pair in unasync.PAIRS:
        head = (ROOT / pair.target).read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith("# GENERATED FILE, do not edit")
        assert pair.source in head


def test_check_catches_a_hand_edit_of_the_sync_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unasync = _load()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for pair in unasync.PAIRS:
        for rel in (pair.source, pair.target):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, tmp_path / rel)
    monkeypatch.setattr(unasync, "ROOT", tmp_path)
    assert unasync.main(["--check"]) == 0

    target = tmp_path / unasync.PAIRS[0].target
    original = target.read_text(encoding="utf-8")
    target.write_text(original.replace("time.sleep(delay)", "time.sleep(delay * 2)", 1), encoding="utf-8")
    assert unasync.main(["--check"]) == 1
    assert "time.sleep(delay * 2)" in target.read_text(encoding="utf-8")  # --check writes nothing

    assert unasync.main([]) == 0  # regenerating restores the generated text
    assert target.read_text(encoding="utf-8") == original


def test_substitutions_turn_async_code_into_its_sync_twin() -> None:
    unasync = _load()
    pair = unasync.Pair("a.py", "b.py")
    source = (
        "import asyncio\n\n"
        "class AsyncIBKRClient:\n"
        "    async def __aenter__(self) -> AsyncIBKRClient:\n"
        "        async with self._lock:\n"
        "            await asyncio.sleep(1)\n"
        "            await self._http.aclose()\n"
        "        return self\n"
        "    # unasync: async-only\n"
        "    async def close(self) -> None:\n"
        "        await self.aclose()\n"
        "    # unasync: end\n"
    )
    out = unasync.substitute(source, pair)
    body = out.split("\n", 2)[2]  # after the two header lines
    assert body == (
        "import threading\nimport time\n\n"
        "class IBKRClient:\n"
        "    def __enter__(self) -> IBKRClient:\n"
        "        with self._lock:\n"
        "            time.sleep(1)\n"
        "            self._http.close()\n"
        "        return self\n"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = await asyncio.gather(a, b)\n", "left async"),
        ("# unasync: async-only\nasync def f() -> None: ...\n", "never closed"),
        ("# unasync: end\n", "without"),
    ],
)
def test_what_the_tables_cannot_translate_is_an_error(source: str, message: str) -> None:
    unasync = _load()
    with pytest.raises(unasync.UnasyncError, match=message):
        unasync.substitute(source, unasync.Pair("a.py", "b.py"))


def test_a_changed_docstring_is_an_error_not_a_silent_leak() -> None:
    unasync = _load()
    pair = unasync.Pair("a.py", "b.py", exact=[('"""Asyncio client."""', '"""Sync client."""')])
    with pytest.raises(unasync.UnasyncError, match="exactly once"):
        unasync.substitute('"""Asyncio client, edited."""\n', pair)
