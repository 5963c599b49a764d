"""The Gateway tab as a person sees it, in Debian's Chromium (Playwright) against ``axion-ibkr dashboard``.

A simulator on a free port stands for a real Client Portal Gateway whose certificate nobody has
trusted yet; the dashboard runs in ``auto`` mode pointed at it. The page says "certificate not
trusted" with the fingerprint and offers "Trust this gateway"; after the click it is connected to
that gateway (never to a simulator of its own). Then the futures operator is set on the Gateway
tab (saved in the user config file) and a futures order previews on the Trading tab. Screenshots
go to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import skip_or_fail
from tests.procs import stop_tree

from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, STARTUP_TIMEOUT, UI_TIMEOUT, _idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class GatewayDashboard:
    """``axion-ibkr dashboard`` in auto mode, pointed at an unpinned gateway (``gateway``)."""

    def __init__(self, tmp: Path, gateway: Any) -> None:
        self.gateway_port = int(gateway.root_url.rsplit(":", 1)[1])
        self.port = _free_port()
        self.config_file = tmp / "config.toml"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AXION_IBKR_")}
        env.update(
            {
                "AXION_IBKR_MODE": "auto",
                "AXION_IBKR_GATEWAY_HOST": "127.0.0.1",
                "AXION_IBKR_GATEWAY_PORT": str(self.gateway_port),
                "AXION_IBKR_DATABASE_URL": f"sqlite:///{tmp / 'orders.sqlite'}",
                "AXION_IBKR_CONFIG_FILE": str(self.config_file),
                "HOME": str(tmp),
            }
        )
        self.stderr_path = tmp / "dashboard.stderr"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "axion_broker_ibkr.cli", "dashboard", "--port", str(self.port)],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dashboard exited early:\n{self.stderr_path.read_text()}")
            try:
                if httpx.get(self.url + "_stcore/health", timeout=2).text == "ok":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"dashboard not ready in {STARTUP_TIMEOUT}s:\n{self.stderr_path.read_text()}")

    def stop(self) -> None:
        left = stop_tree(self.proc)
        self._stderr.close()
        assert not left, f"processes left behind by the dashboard: {left}"


@pytest.fixture
def gateway_dashboard(tmp_path: Path) -> Iterator[tuple[GatewayDashboard, Any]]:
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from axion_broker_ibkr.sim import SimServer

    gateway = SimServer(port=0, seed=43)
    gateway.start()
    try:
        dash = GatewayDashboard(tmp_path, gateway)
        try:
            yield dash, gateway
        finally:
            dash.stop()
    finally:
        gateway.stop()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def test_trust_this_gateway_then_set_the_futures_operator(
    gateway_dashboard: tuple[GatewayDashboard, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    dash, gateway = gateway_dashboard
    fingerprint = gateway.cert_fingerprint
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1400, "height": 1700},
        )  # fmt: skip
        try:
            page = context.new_page()
            page.goto(dash.url, wait_until="domcontentloaded")
            expect(page.get_by_text("certificate not trusted", exact=False).first).to_be_visible(
                timeout=UI_TIMEOUT
            )
            expect(page.get_by_text(fingerprint).first).to_be_visible()
            expect(page.get_by_text(re.compile("SIMULATOR"))).to_have_count(0)  # nothing fell back
            trust = page.get_by_role("button", name="Trust this gateway")
            expect(trust).to_be_visible()
            _idle(page)
            _shot(page, "gateway-untrusted")

            trust.click()
            expect(page.get_by_text(f"certificate {fingerprint} saved", exact=False)).to_be_visible(
                timeout=UI_TIMEOUT
            )
            expect(page.get_by_text("IBKR gateway · paper account DU***567", exact=False)).to_be_visible(
                timeout=UI_TIMEOUT
            )
            expect(page.get_by_text(re.compile("SIMULATOR"))).to_have_count(0)
            assert tomllib.loads(dash.config_file.read_text())["gateways"][
                f"127.0.0.1:{dash.gateway_port}"
            ] == {"pin": fingerprint}

            page.get_by_role("tab", name="Gateway").click()
            expect(page.get_by_text("Connected and authenticated.")).to_be_visible(timeout=UI_TIMEOUT)
            expect(page.get_by_text("Within limits", exact=False)).to_be_visible()
            operator = page.get_by_role("textbox", name="Futures operator (CME Rule 536-B extOperator)")
            operator.fill("jdoe")
            page.get_by_role("button", name="Save settings").click()
            expect(page.get_by_text("Saved futures_operator = jdoe", exact=False)).to_be_visible(
                timeout=UI_TIMEOUT
            )
            _idle(page)
            _shot(page, "gateway-settings")
            assert tomllib.loads(dash.config_file.read_text())["futures_operator"] == "jdoe"

            page.get_by_role("tab", name="Trading").click()
            sectype = page.get_by_role("combobox", name="Security type")
            expect(sectype).to_be_visible(timeout=UI_TIMEOUT)
            sectype.click()
            page.get_by_role("option", name="Future").click()
            _idle(page)
            symbol = page.get_by_label("Symbol", exact=True)
            symbol.fill("ES")
            symbol.press("Enter")
            _idle(page)
            page.locator('button[data-testid="stBaseButton-secondary"]', has_text="Search").first.click()
            use = page.get_by_role("button", name="Use this contract")
            expect(use).to_be_visible(timeout=UI_TIMEOUT)
            use.click()
            order_type = page.get_by_role("combobox", name="Order type")
            expect(order_type).to_be_visible(timeout=UI_TIMEOUT)
            order_type.click()
            page.get_by_role("option", name="market", exact=True).click()
            _idle(page)
            page.get_by_role("button", name="Preview (what-if)").click()
            expect(page.get_by_test_id("stMetric").filter(has_text="Commission")).to_be_visible(
                timeout=UI_TIMEOUT
            )
            expect(page.get_by_text("Futures orders need a futures operator", exact=False)).to_have_count(0)
            _idle(page)
            _shot(page, "trading-futures-preview")
        finally:
            context.close()
    for name in ("gateway-untrusted", "gateway-settings", "trading-futures-preview"):
        assert (ARTIFACTS / f"dashboard-{name}.png").stat().st_size > 10_000
