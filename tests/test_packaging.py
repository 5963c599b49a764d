"""The built wheel, installed into a fresh virtualenv, is discovered by the reference host with no wiring."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_wheel_in_fresh_venv_is_discovered(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("axion_broker_ibkr-*.whl")

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    py = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    # Only the wheel and pluggy: discovery must need nothing else (the plugin module imports pluggy only).
    _run([str(py), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], cwd=tmp_path)
    _run([str(py), "-m", "pip", "install", "--quiet", "pluggy"], cwd=tmp_path)

    # The reference host, copied away from the source tree, so nothing of the checkout is on sys.path.
    host_pkg = tmp_path / "work" / "refhost"
    shutil.copytree(ROOT / "tests" / "host", host_pkg, ignore=shutil.ignore_patterns("__pycache__", "test_*"))
    clean_env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    proc = _run([str(py), "-m", "refhost"], cwd=host_pkg.parent, env=clean_env)
    report = json.loads(proc.stdout)
    assert report["brokers"] == ["ibkr"]
    assert report["registry"]["ibkr"]["rate_limit_per_minute"] == 50

    where = _run(
        [str(py), "-c", "import axion_broker_ibkr.plugin as p; print(p.__file__)"],
        cwd=host_pkg.parent, env=clean_env,
    )  # fmt: skip
    assert str(env_dir) in where.stdout, "the plugin must come from the installed wheel"
    assert str(ROOT) not in where.stdout
