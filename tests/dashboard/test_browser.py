"""End to end in a real browser: Debian's Chromium driven by Playwright against ``axion-ibkr dashboard``.

The dashboard starts in ``auto`` mode with no gateway listening, so it starts the simulator
itself (the fresh-machine path). The test loads the page, goes through the four tabs, places a
paper order with the explicit confirmation and sees it among the open orders, and saves a
screenshot of each tab under ``test-artifacts/``.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, skip_or_fail

from .seed import seed_portfolio

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 90.0
UI_TIMEOUT = 45_000  # ms, per expectation

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Dashboard:
    """``axion-ibkr dashboard`` in a child process, with the simulator it started."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AXION_IBKR_")}
        env.update(
            {
                "AXION_IBKR_MODE": "auto",
                "AXION_IBKR_GATEWAY_HOST": "127.0.0.1",
                "AXION_IBKR_GATEWAY_PORT": str(_free_port()),  # nothing listens there
                "AXION_IBKR_DATABASE_URL": f"sqlite:///{tmp / 'orders.sqlite'}",
                "HOME": str(tmp),
            }
        )
        self.stderr_path = tmp / "dashboard.stderr"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "axion_broker_ibkr.cli", "dashboard", "--port", str(self.port)],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        self.sim_url, self.sim_pin = self._wait_ready()

    def _wait_ready(self) -> tuple[str, str]:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        sim: tuple[str, str] | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dashboard exited early:\n{self.stderr_path.read_text()}")
            text = self.stderr_path.read_text()
            match = re.search(
                r"simulator listening at (https://\S+) \(certificate (sha256:[0-9a-f]+)\)", text
            )
            if match:
                sim = (match.group(1), match.group(2))
            try:
                if sim and httpx.get(self.url + "_stcore/health", timeout=2).text == "ok":
                    return sim
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"dashboard not ready in {STARTUP_TIMEOUT}s:\n{self.stderr_path.read_text()}")

    def admin(self) -> Any:
        from axion_broker_ibkr.clientbase import pinned_context
        from axion_broker_ibkr.sim.admin import SimAdmin

        port = int(self.sim_url.rsplit(":", 1)[1])
        ctx = pinned_context("127.0.0.1", port, self.sim_pin.split(":", 1)[1], 5.0)
        return SimAdmin(self.sim_url, verify=ctx)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    dash = Dashboard(tmp_path)
    try:
        yield dash
    finally:
        dash.stop()


def _shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"dashboard-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _idle(page: Any) -> None:
    """Wait until Streamlit has finished the current run (its status widget goes away)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=UI_TIMEOUT)


def _charts_drawn(page: Any, count: int) -> None:
    """Wait until ``count`` Vega-Lite charts have drawn (they render after the script run ends)."""
    drawn = page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg')
    expect_count = count
    page.wait_for_function(
        'n => document.querySelectorAll(\'[data-testid="stVegaLiteChart"] canvas,'
        ' [data-testid="stVegaLiteChart"] svg\').length >= n',
        arg=expect_count,
        timeout=UI_TIMEOUT,
    )
    assert drawn.count() >= count
    page.wait_for_timeout(500)


def test_dashboard_in_chromium(dashboard: Dashboard, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin = dashboard.admin()
    try:
        seed_portfolio(admin, dashboard.sim_url, dashboard.sim_pin)
        admin.set_price(265598, 190.0)  # AAPL frozen: the 185 limit stays inside IBKR's price band
    finally:
        admin.close()
    with sync_playwright() as pw:
        # A persistent context on a fresh directory is Playwright's spelling of --user-data-dir.
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1700},
        )
        try:
            page = context.new_page()
            page.goto(dashboard.url, wait_until="domcontentloaded")
            expect(page.get_by_text("SIMULATOR", exact=False).first).to_be_visible(timeout=UI_TIMEOUT)
            expect(page.get_by_text("DU***567", exact=False).first).to_be_visible()
            expect(page.get_by_text("Net liquidation").first).to_be_visible(timeout=UI_TIMEOUT)
            _idle(page)
            _charts_drawn(page, 1)  # the P&L chart
            _shot(page, "account")

            page.get_by_role("tab", name="Trading").click()
            symbol = page.get_by_label("Symbol", exact=True)
            expect(symbol).to_be_visible(timeout=UI_TIMEOUT)
            symbol.fill("AAPL")
            symbol.press("Enter")
            _idle(page)
            page.get_by_role("button", name="Search").click()
            expect(page.get_by_role("button", name="Use this contract")).to_be_visible(timeout=UI_TIMEOUT)
            page.get_by_role("button", name="Use this contract").click()
            limit = page.get_by_label("Limit price", exact=True)
            expect(limit).to_be_visible(timeout=UI_TIMEOUT)
            limit.fill("185")
            limit.press("Enter")
            _idle(page)
            page.get_by_role("button", name="Review order…").click()
            confirm = page.get_by_role("button", name="Confirm and send")
            expect(confirm).to_be_visible(timeout=UI_TIMEOUT)
            expect(page.get_by_text("BUY 1 share AAPL", exact=False)).to_be_visible()
            confirm.click()
            placed = page.get_by_text(re.compile(r"Order \d+ \(.+\): open"))
            expect(placed).to_be_visible(timeout=UI_TIMEOUT)
            order_id = re.search(r"Order (\d+)", placed.inner_text())
            assert order_id is not None
            open_order = page.get_by_role("combobox", name="Open order")
            expect(open_order).to_have_value(
                re.compile(rf"^{order_id.group(1)} · AAPL Buy 1 Limit 185"), timeout=UI_TIMEOUT
            )
            _idle(page)
            _shot(page, "trading")

            page.get_by_role("tab", name="Market Data").click()
            expect(page.get_by_text("Live from the WebSocket stream", exact=False).or_(
                page.get_by_text("REST snapshots", exact=False)
            ).first).to_be_visible(timeout=UI_TIMEOUT)  # fmt: skip
            page.get_by_role("button", name="Load chart").click()
            expect(page.get_by_text(re.compile(r"\d+ bars"))).to_be_visible(timeout=UI_TIMEOUT)
            _charts_drawn(page, 1)  # the candles
            _shot(page, "market-data")

            page.get_by_role("tab", name="Gateway").click()
            expect(page.get_by_text("Connected and authenticated.")).to_be_visible(timeout=UI_TIMEOUT)
            _idle(page)
            _shot(page, "gateway")
        finally:
            context.close()
    for name in ("account", "trading", "market-data", "gateway"):
        assert (ARTIFACTS / f"dashboard-{name}.png").stat().st_size > 10_000
