"""Speed a trader feels on the page: Chromium (Playwright) against ``axion-ibkr dashboard`` on the
embedded simulator, with IBKR's pacing on (the simulator's default, real rates).

Per round: switch to each tab, search a symbol, preview (what-if), send (confirm -> the page shows
the order), cancel until the page no longer lists it as open, load a chart. Prints median and p90
per action in milliseconds, and for each action the IBKR-paced endpoints it called (from the
simulator's request counts; the client waits between two calls of those, 5 s for live orders) and
any spinner text the page showed (the page names pacing waits there)::

    python bench/page.py [--rounds 5] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axion_broker_ibkr.drivers.pacing import IBKR_ENDPOINT_RULES  # noqa: E402

UI_TIMEOUT = 60_000  # ms
STARTUP_TIMEOUT = 120.0
AAPL = 265598
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
#: Collects the text of every spinner the page shows (Streamlit's ``st.spinner``) into a list.
SPINNER_WATCH = """
window.__spinners = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('[data-testid="stSpinner"]')) {
    const text = el.innerText.trim();
    if (text && !window.__spinners.includes(text)) window.__spinners.push(text);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Dashboard:
    """``axion-ibkr dashboard`` in auto mode with no gateway: it starts the simulator itself."""

    def __init__(self, tmp: Path, max_requests_per_minute: int | None = None) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AXION_IBKR_")}
        env.update(
            {
                "AXION_IBKR_MODE": "auto",
                "AXION_IBKR_GATEWAY_HOST": "127.0.0.1",
                "AXION_IBKR_GATEWAY_PORT": str(_free_port()),
                "AXION_IBKR_DATABASE_URL": f"sqlite:///{tmp / 'orders.sqlite'}",
                "AXION_IBKR_CONFIG_FILE": str(tmp / "config.toml"),
                "HOME": str(tmp),
                "PYTHONPATH": str(ROOT),
            }
        )
        if max_requests_per_minute is not None:
            env["AXION_IBKR_MAX_REQUESTS_PER_MINUTE"] = str(max_requests_per_minute)
        self.stderr_path = tmp / "dashboard.stderr"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "axion_broker_ibkr.cli", "dashboard", "--port", str(self.port)],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        found = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"dashboard exited:\n{self.stderr_path.read_text()}")
            found = found or re.search(
                r"simulator listening at (https://\S+) \(certificate sha256:([0-9a-f]+)\)",
                self.stderr_path.read_text(),
            )
            try:
                if found and httpx.get(self.url + "_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            self.stop()
            raise SystemExit(f"dashboard not ready:\n{self.stderr_path.read_text()}")
        from axion_broker_ibkr.sim.admin import SimAdmin

        from axion_broker_ibkr.drivers.client_base import pinned_context

        assert found is not None
        self.sim_url = found.group(1)
        sim_port = int(self.sim_url.rsplit(":", 1)[1])
        self.admin = SimAdmin(self.sim_url, verify=pinned_context("127.0.0.1", sim_port, found.group(2), 5.0))

    def request_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.admin.state().get("request_counts", {}).items()}

    def stop(self) -> None:
        self.proc.terminate()  # the dashboard stops Streamlit and its simulator (SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def _paced(path_key: str) -> str | None:
    """The client's name and interval for a paced endpoint (``live_orders (1 per 5 s)``), if it is one."""
    method, _, path = path_key.partition(" ")
    if not path:
        method, path = "GET", path_key
    for rule in IBKR_ENDPOINT_RULES:
        if rule.min_interval >= 1.0 and rule.matches(method, path):
            return f"{rule.name} (1 per {rule.min_interval:g} s)"
    return None


class Bench:
    def __init__(self, dash: Dashboard, page: Any) -> None:
        self.dash = dash
        self.page = page
        self.times: dict[str, list[float]] = defaultdict(list)
        self.paced: dict[str, set[str]] = defaultdict(set)
        self.spinners: dict[str, set[str]] = defaultdict(set)

    def idle(self) -> None:
        self.page.wait_for_timeout(50)
        self.page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=UI_TIMEOUT)

    def shown(self, locator: Any) -> Callable[[], None]:
        """Waits until ``locator`` is visible and the script run has ended."""
        from playwright.sync_api import expect

        def wait() -> None:
            expect(locator).to_be_visible(timeout=UI_TIMEOUT)
            self.idle()

        return wait

    def timed(self, name: str, action: Callable[[], object], done: Callable[[], object]) -> None:
        before = self.dash.request_counts()
        self.page.evaluate("window.__spinners = []")
        start = time.perf_counter()
        action()
        done()
        self.times[name].append(time.perf_counter() - start)
        after = self.dash.request_counts()
        for key, count in after.items():
            if count > before.get(key, 0) and (label := _paced(key)):
                self.paced[name].add(label)
        self.spinners[name].update(self.page.evaluate("window.__spinners"))

    def round(self) -> None:
        from playwright.sync_api import expect

        page = self.page
        markers = {
            "Trading": page.get_by_label("Symbol", exact=True),
            "Market Data": page.get_by_role("button", name="Load chart"),
            "Gateway": page.get_by_text("Connected and authenticated."),
            "Account": page.get_by_text("Net liquidation").first,
        }
        for tab, marker in markers.items():
            self.timed(f"tab -> {tab}", page.get_by_role("tab", name=tab).click, self.shown(marker))

        page.get_by_role("tab", name="Trading").click()
        symbol = page.get_by_label("Symbol", exact=True)
        expect(symbol).to_be_visible(timeout=UI_TIMEOUT)
        symbol.fill("AAPL")
        symbol.press("Enter")
        self.idle()
        use = page.get_by_role("button", name="Use this contract")
        # exact: the orders table's toolbar has a "Search" button too
        search = page.locator('button[data-testid="stBaseButton-secondary"]', has_text="Search").first
        self.timed(
            "search",
            lambda: search.click(),
            self.shown(use),
        )
        use.click()
        limit = page.get_by_label("Limit price", exact=True)
        expect(limit).to_be_visible(timeout=UI_TIMEOUT)
        limit.fill("185")
        limit.press("Enter")
        self.idle()
        self.timed(
            "preview",
            lambda: page.get_by_role("button", name="Preview (what-if)").click(),
            self.shown(page.get_by_test_id("stMetric").filter(has_text="Commission")),
        )
        page.get_by_role("button", name="Review order…").click()
        confirm = page.get_by_role("button", name="Confirm and send")
        expect(confirm).to_be_visible(timeout=UI_TIMEOUT)
        self.idle()
        placed = page.get_by_text(re.compile(r"Order \d+ \(.+\): open"))
        shown = placed.inner_text() if placed.count() else None  # the banner of the round before

        def sent() -> None:
            if shown is None:
                expect(placed).to_be_visible(timeout=UI_TIMEOUT)
            else:
                expect(placed).not_to_have_text(shown, timeout=UI_TIMEOUT)
            self.idle()

        self.timed("send", lambda: confirm.click(), sent)
        found = re.search(r"Order (\d+)", placed.inner_text())
        assert found is not None
        order_id = found.group(1)
        pick = page.get_by_role("combobox", name="Open order")
        expect(pick).to_have_value(re.compile(rf"^{order_id} · "), timeout=UI_TIMEOUT)
        self.idle()
        cancel = page.get_by_role("button", name="Cancel order")

        def gone() -> None:  # the page no longer offers the order as open: it shows it cancelled
            page.wait_for_function(
                "id => ![...document.querySelectorAll('input[aria-label=\"Open order\"]')]"
                ".some(e => e.value.startsWith(id + ' · '))",
                arg=order_id,
                timeout=UI_TIMEOUT,
            )
            self.idle()

        self.timed("cancel to cancelled", lambda: cancel.click(), gone)

        page.get_by_role("tab", name="Market Data").click()
        load = page.get_by_role("button", name="Load chart")
        expect(load).to_be_visible(timeout=UI_TIMEOUT)
        self.idle()
        before = page.locator('[data-testid="stVegaLiteChart"]').count()

        def chart() -> None:
            expect(page.get_by_text(re.compile(r"\d+ bars"))).to_be_visible(timeout=UI_TIMEOUT)
            page.wait_for_function(
                'n => document.querySelectorAll(\'[data-testid="stVegaLiteChart"] canvas,'
                ' [data-testid="stVegaLiteChart"] svg\').length >= n',
                arg=max(1, before),
                timeout=UI_TIMEOUT,
            )
            self.idle()

        self.timed("chart load", lambda: load.click(), chart)
        page.get_by_role("tab", name="Account").click()
        self.idle()


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def report(bench: Bench) -> list[str]:
    lines = [f"{'action':<22}{'n':>4}{'median ms':>11}{'p90 ms':>9}  pacing / waits named"]
    for name, values in bench.times.items():
        paced = ", ".join(sorted(bench.paced[name])) or "-"
        spin = "; ".join(sorted(bench.spinners[name]))
        median = statistics.median(values) * 1000
        flag = " (>1 s)" if median > 1000 else ""
        lines.append(
            f"{name:<22}{len(values):>4}{median:>11.0f}{_p90(values) * 1000:>9.0f}  paced: {paced}"
            + (f" | spinner: {spin}" if spin else "")
            + flag
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--max-requests-per-minute",
        type=int,
        default=None,
        help="the page client's global cap (config max_requests_per_minute; default: the config's)",
    )
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args(argv)
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-page-") as name:
        tmp = Path(name)
        dash = Dashboard(tmp, args.max_requests_per_minute)
        try:
            dash.admin.set_price(AAPL, 190.0)  # the 185 limit rests (no fill) until cancelled
            with sync_playwright() as pw:
                context = pw.chromium.launch_persistent_context(
                    str(tmp / "profile"), executable_path=args.chromium, args=CHROMIUM_ARGS,
                    headless=True, viewport={"width": 1400, "height": 1600},
                )  # fmt: skip
                try:
                    page = context.new_page()
                    page.add_init_script(SPINNER_WATCH)
                    page.goto(dash.url, wait_until="domcontentloaded")
                    expect(page.get_by_text("Net liquidation").first).to_be_visible(timeout=UI_TIMEOUT)
                    bench = Bench(dash, page)
                    bench.idle()
                    for i in range(args.rounds):
                        bench.round()
                        print(f"round {i + 1}/{args.rounds} done", file=sys.stderr)
                finally:
                    context.close()
        finally:
            dash.admin.close()
            dash.stop()
    cap = args.max_requests_per_minute or "default"
    print(
        f"page speed in Chromium, {args.rounds} rounds against the simulator (IBKR pacing on; "
        f"max_requests_per_minute={cap}):"
    )
    for line in report(bench):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
