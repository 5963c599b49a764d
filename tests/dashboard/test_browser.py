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
from tests.procs import stop_tree

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

    def __init__(self, tmp: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AXION_IBKR_")}
        env.update(
            {
                "AXION_IBKR_MODE": "auto",
                "AXION_IBKR_GATEWAY_HOST": "127.0.0.1",
                "AXION_IBKR_GATEWAY_PORT": str(_free_port()),  # nothing listens there
                "AXION_IBKR_DATABASE_URL": f"sqlite:///{tmp / 'orders.sqlite'}",
                "HOME": str(tmp),
                **(extra_env or {}),
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
        from axion_broker_ibkr.drivers.client_base import pinned_context
        from axion_broker_ibkr.sim.api.admin import SimAdmin

        port = int(self.sim_url.rsplit(":", 1)[1])
        ctx = pinned_context("127.0.0.1", port, self.sim_pin.split(":", 1)[1], 5.0)
        return SimAdmin(self.sim_url, verify=ctx)

    def stop(self) -> None:
        """SIGTERM the dashboard, then kill whatever of its tree (Streamlit, the simulator) is left."""
        try:
            left = stop_tree(self.proc)
            if left:
                log.warning("dashboard left processes behind after SIGTERM, killed: %s", left)
        finally:
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
                re.compile(rf"^{order_id.group(1)} · AAPL · Buy 1 Limit 185"), timeout=UI_TIMEOUT
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


# ------------------------------------------------------------------------------------------------
# Issue 11 scenarios: what is sent is what is shown, contracts named in full, live state.
# One dashboard (with a futures operator) serves them all; each scenario is its own test, so
# ``-k`` runs one. Screenshots go to test-artifacts/ as above.

OPERATOR = "trader-7"


@pytest.fixture(scope="module")
def trading_dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    tmp = tmp_path_factory.mktemp("trading-dashboard")
    dash = Dashboard(tmp, {"AXION_IBKR_FUTURES_OPERATOR": OPERATOR})
    try:
        yield dash
    finally:
        dash.stop()


@pytest.fixture
def browser_page(trading_dashboard: Dashboard, tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1900},
        )
        try:
            page = context.new_page()
            page.goto(trading_dashboard.url, wait_until="domcontentloaded")
            page.get_by_text("SIMULATOR", exact=False).first.wait_for(timeout=UI_TIMEOUT)
            yield page
        finally:
            context.close()


def _direct_client(dash: Dashboard) -> Any:
    """Another client on the simulator's account (a trader's other platform), futures-capable. It
    keeps well inside the gateway's 10 requests/s, which it shares with the page."""
    from axion_broker_ibkr.client import IBKRClient
    from axion_broker_ibkr.config import IBKRConfig

    config = IBKRConfig(
        mode="sim",
        sim_url=dash.sim_url,
        ssl_verify=dash.sim_pin,
        gateway_host="127.0.0.1",
        futures_operator=OPERATOR,
        database_url="memory",
        max_requests_per_minute=20,
    )
    return IBKRClient(config)


@pytest.fixture(scope="module")
def other_platform(trading_dashboard: Dashboard) -> Iterator[Any]:
    with _direct_client(trading_dashboard) as client:
        yield client


@pytest.fixture(scope="module")
def contracts(trading_dashboard: Dashboard, other_platform: Any) -> dict[str, Any]:
    """Full contracts of the simulator's AAPL stock, ES front month, an AAPL call, IBM bond, EUR.USD."""
    from .seed import multi_asset_conids

    conids = {**multi_asset_conids(trading_dashboard.sim_url, trading_dashboard.sim_pin), "stock": 265598}
    time.sleep(1.5)  # that lookup's burst out of the gateway's per-second budget
    return {kind: other_platform.order_contract(conid) for kind, conid in conids.items()}


def _place(client: Any, contract: Any, asset: str, qty: float, limit: float) -> int:
    order: dict[str, Any] = {"symbol": contract.symbol, "asset_type": asset, "side": "buy", "qty": qty,
                             "order_type": "limit", "limit_price": limit, "time_in_force": "day"}  # fmt: skip
    if asset == "options":
        order.update(option_type={"C": "call", "P": "put"}[contract.right], strike=contract.strike,
                     expiration=contract.expiry)  # fmt: skip
    result = client.place_order(order, contract)
    assert result.order_id is not None, result
    return int(result.order_id)


def _trading_tab(page: Any) -> None:
    page.get_by_role("tab", name="Trading").click()
    page.get_by_label("Symbol", exact=True).wait_for(timeout=UI_TIMEOUT)
    _idle(page)


def _pick(page: Any, label: str, option: str | re.Pattern[str]) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).first.click()
    _idle(page)


def _pick_contract(page: Any, sec_label: str, symbol: str) -> None:
    from playwright.sync_api import expect

    if sec_label != "Stock / ETF":
        _pick(page, "Security type", sec_label)
    box = page.get_by_label("Symbol", exact=True)
    box.fill(symbol)
    box.press("Enter")
    _idle(page)
    page.get_by_role("button", name="Search").click()
    use = page.get_by_role("button", name="Use this contract")
    expect(use).to_be_visible(timeout=UI_TIMEOUT)
    use.click()
    expect(page.get_by_label("Limit price", exact=True)).to_be_visible(timeout=UI_TIMEOUT)
    _idle(page)


def _fill(page: Any, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    _idle(page)


def test_confirm_box_shows_exact_prices_in_chromium(
    trading_dashboard: Dashboard, browser_page: Any, contracts: dict[str, Any]
) -> None:
    """185.12 stays 185.12; an ES limit of 5850.30 is shown as sent, 5,850.25, with the rounding."""
    from playwright.sync_api import expect

    page = browser_page
    admin = trading_dashboard.admin()
    try:
        admin.set_price(265598, 190.0)
        admin.set_price(contracts["future"].conid, 5850.0)
    finally:
        admin.close()
    _trading_tab(page)
    _pick_contract(page, "Stock / ETF", "AAPL")
    quote = page.get_by_text(re.compile(r"live from the stream|snapshot \(the stream"))
    expect(quote.first).to_be_visible(timeout=UI_TIMEOUT)
    _fill(page, "Limit price", "185.12")
    page.get_by_role("button", name="Review order…").click()
    headline = page.get_by_text("BUY 1 share AAPL LIMIT 185.12 DAY", exact=False)
    expect(headline).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("Limit price: 185.12", exact=True)).to_be_visible()
    expect(page.get_by_text("Account: DU***567", exact=True)).to_be_visible()
    _idle(page)
    _shot(page, "confirm-185.12")
    page.get_by_role("button", name="Discard").click()
    _idle(page)

    _pick_contract(page, "Future", "ES")
    _fill(page, "Limit price", "5850.30")
    page.get_by_role("button", name="Review order…").click()
    # Streamlit's Markdown draws "->" as an arrow.
    rounded = page.get_by_text(
        re.compile(r"^Limit price: 5,850\.25 \(tick rounding: 5850\.30 (->|→) 5850\.25\)$")
    )
    expect(rounded).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("Quantity: 1 contract", exact=True)).to_be_visible()
    _idle(page)
    _shot(page, "confirm-es-tick-rounded")
    page.get_by_role("button", name="Discard").click()
    _idle(page)


def test_modify_after_picking_another_order_sends_the_picked_terms_in_chromium(
    trading_dashboard: Dashboard, browser_page: Any, contracts: dict[str, Any], other_platform: Any
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    admin = trading_dashboard.admin()
    try:
        admin.set_price(contracts["forex"].conid, 1.08)
        admin.set_price(contracts["bond"].conid, 98.0)
    finally:
        admin.close()
    fx_id = _place(other_platform, contracts["forex"], "forex", 25_000, 1.079)
    bond_id = _place(other_platform, contracts["bond"], "bond", 10_000, 97.5)
    _trading_tab(page)
    _pick(page, "Open order", re.compile(rf"^{fx_id} · "))
    expect(page.get_by_text("25,000 EUR", exact=False).first).to_be_visible(timeout=UI_TIMEOUT)
    _pick(page, "Open order", re.compile(rf"^{bond_id} · "))
    expect(page.get_by_text("10,000 face value", exact=False).first).to_be_visible(timeout=UI_TIMEOUT)
    _fill(page, "New limit price", "97.6")
    # What the trader typed stays in the box while the stream updates the live table.
    expect(page.get_by_label("New limit price", exact=True)).to_have_value("97.6")
    page.get_by_role("button", name="Modify order…").click()
    box = page.get_by_text(f"Confirm modify of order {bond_id}:", exact=False)
    expect(box).to_be_visible(timeout=UI_TIMEOUT)
    expect(page.get_by_text("Quantity: 10,000 face value", exact=True)).to_be_visible()
    expect(page.get_by_text("Limit price: 97.60", exact=True)).to_be_visible()
    expect(page.get_by_text("Commission").first).to_be_visible()  # the modify's what-if
    _idle(page)
    _shot(page, "modify-picked-order")
    page.get_by_role("button", name="Confirm modify").click()
    _idle(page)
    time.sleep(5.5)  # IBKR's pacing of live orders (the page's stream may just have read them)
    live = {int(o.order_id or 0): o for o in other_platform.live_orders()}
    for oid in (fx_id, bond_id):
        other_platform.cancel_order(oid)
    assert (live[bond_id].total_size, live[bond_id].price) == (10_000, pytest.approx(97.6))
    assert (live[fx_id].total_size, live[fx_id].price) == (25_000, pytest.approx(1.079))


_WATCH_NOTICE = """oid => { window.__seen = {};
  new MutationObserver(() => {
    const text = document.body.innerText;
    for (const s of ['PendingCancel', 'Cancelled']) {
      if (!window.__seen[s] && text.includes(`Cancel of order ${oid} (AAPL): ${s}`))
        window.__seen[s] = Date.now();
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true}); }"""


def test_cancel_shows_cancelled_within_a_second_of_the_stream_in_chromium(
    trading_dashboard: Dashboard, browser_page: Any, contracts: dict[str, Any], other_platform: Any
) -> None:
    from functools import partial

    from playwright.sync_api import expect

    from axion_broker_ibkr.client import AsyncIBKRClient
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.streaming import StreamChannel, SyncStreaming

    page = browser_page
    admin = trading_dashboard.admin()
    try:
        admin.set_price(265598, 190.0)
    finally:
        admin.close()
    stock = contracts["stock"]
    oid = _place(other_platform, stock, "stock", 1, 185.0)
    said: dict[str, float] = {}

    def on_order(event: Any) -> None:
        if event.order_id == oid and event.order.status:
            said.setdefault(event.order.status, time.time())

    class WebSocketOnly(AsyncIBKRClient):
        """Listens to ``sor`` frames only: no REST rebuild, so the page's live-orders budget
        (IBKR's 1 per 5 s, shared by every client of the account) stays the page's."""

        async def live_orders(self, *args: Any, **kwargs: Any) -> list[Any]:
            return []

    dash = trading_dashboard
    config = IBKRConfig(mode="sim", sim_url=dash.sim_url, ssl_verify=dash.sim_pin, gateway_host="127.0.0.1")
    with SyncStreaming(partial(WebSocketOnly, config)) as listener:
        listener.on(StreamChannel.ORDERS, on_order)
        listener.subscribe_orders()
        _trading_tab(page)
        _pick(page, "Open order", re.compile(rf"^{oid} · "))
        # The browser notes when the notice first says PendingCancel and when it says Cancelled.
        page.evaluate(_WATCH_NOTICE, oid)
        page.get_by_role("button", name="Cancel order").click()
        done = page.get_by_text(f"Cancel of order {oid} (AAPL): Cancelled", exact=False)
        expect(done).to_be_visible(timeout=UI_TIMEOUT)
        seen = page.evaluate("() => window.__seen")
        _idle(page)
        _shot(page, "cancel-cancelled")
    assert "Cancelled" in said, said
    lag = seen["Cancelled"] / 1000 - said["Cancelled"]
    log.info("stream said %s; the page showed Cancelled %.3f s after the stream (%s)", said, lag, seen)
    assert lag < 1.0, (said, seen)
    assert not page.get_by_text(re.compile(rf"Order {oid} .*Submitted")).count()  # no stale banner


def test_option_future_and_bond_named_in_full_in_live_orders_in_chromium(
    trading_dashboard: Dashboard, browser_page: Any, contracts: dict[str, Any], other_platform: Any
) -> None:
    from playwright.sync_api import expect

    from axion_broker_ibkr.naming import describe_contract

    page = browser_page
    opt, fut, bond = contracts["option"], contracts["future"], contracts["bond"]
    admin = trading_dashboard.admin()
    try:
        admin.set_price(fut.conid, 5850.0)
        admin.set_price(bond.conid, 98.0)
    finally:
        admin.close()
    quote = other_platform.snapshot([opt.conid])[0]
    opt_limit = round(float(quote.bid or quote.last) * 0.99, 2)  # inside IBKR's price band, not crossing
    ids = [
        _place(other_platform, opt, "options", 1, opt_limit),
        _place(other_platform, fut, "futures", 1, 5849.0),
        _place(other_platform, bond, "bond", 10_000, 97.5),
    ]
    e = str(opt.expiry)
    names = [
        f"AAPL {e[:4]}-{e[4:6]}-{e[6:8]} {opt.strike:g} {opt.right}",
        describe_contract({"sec_type": "FUT", "symbol": "ES", "expiry": fut.expiry}),  # ES Mon YYYY
        "IBM 3.3% 2029-05-15",
    ]
    _trading_tab(page)
    page.get_by_role("combobox", name="Open order").click()
    for oid, name in zip(ids, names, strict=True):
        option = page.get_by_role("option", name=re.compile(rf"^{oid} · {re.escape(name)}"))
        expect(option).to_be_visible(timeout=UI_TIMEOUT)
    _shot(page, "live-orders-named-in-full")
    page.keyboard.press("Escape")
    for oid, contract in zip(ids, (opt, fut, bond), strict=True):
        other_platform.cancel_order(oid, sec_type=contract.sec_type)


# ------------------------------------------------------------------------------------------------
# Issue 15 (the page): a bracket placed from the Trading tab, shown as one group in live orders.


def _grid_rows(page: Any, column: str) -> list[list[str]]:
    """The rows (cell texts) of the table whose header has ``column``, from the data grid's
    accessible table: Streamlit draws the cells on a canvas and mirrors the cells in view inside
    it for screen readers, once the grid has been scrolled into view."""
    header = page.locator('th[role="columnheader"]', has_text=re.compile(rf"^{re.escape(column)}$"))
    grid = page.get_by_test_id("stDataFrame").filter(has=header)
    for candidate in page.get_by_test_id("stDataFrame").all():
        if not grid.count() and candidate.is_visible():
            candidate.scroll_into_view_if_needed()
            page.wait_for_timeout(200)
    if not grid.count():
        return []
    rows = grid.first.locator('tbody tr[role="row"]').all()
    return [[c.strip() for c in row.locator('td[role="gridcell"]').all_text_contents()] for row in rows]


def test_bracket_placed_from_the_page_is_shown_as_one_group_in_chromium(
    trading_dashboard: Dashboard, browser_page: Any, other_platform: Any
) -> None:
    """Entry 188, take-profit 193, stop-loss 185 for 2 AAPL: the confirm box lists the three legs and
    the risk/reward; after sending, live orders show the three orders together as one group."""
    from playwright.sync_api import expect

    page = browser_page
    admin = trading_dashboard.admin()
    try:
        admin.set_price(265598, 190.0)  # frozen: every leg stays inside IBKR's price band
    finally:
        admin.close()
    _trading_tab(page)
    _pick_contract(page, "Stock / ETF", "AAPL")
    bracket = page.get_by_test_id("stExpander").filter(
        has_text="Bracket order (entry + take-profit + stop-loss)"
    )
    bracket.locator("summary").click()
    for label, value in (("Quantity", "2"), ("Entry price", "188"), ("Take-profit (limit)", "193"),
                         ("Stop-loss (stop)", "185")):  # fmt: skip
        box = bracket.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Enter")
        _idle(page)
    bracket.get_by_role("button", name="Review bracket…").click()
    expect(page.get_by_text("Confirm Bracket: BUY 2 AAPL, 3 orders")).to_be_visible(timeout=UI_TIMEOUT)
    legs = (
        r"^Entry: BUY 2 shares LIMIT limit 188\.00 DAY \(cOID (\S+);",
        r"^Take-profit: SELL 2 shares LIMIT limit 193\.00 DAY \(attached to (\S+);",
        r"^Stop-loss: SELL 2 shares STOP stop 185\.00 DAY \(attached to (\S+);",
    )
    for leg in legs:
        expect(page.get_by_text(re.compile(leg))).to_be_visible()
    expect(page.get_by_text("Risk/reward: risk 6.00 USD · reward 10.00 USD · risk/reward 1 : 1.67",
                            exact=True)).to_be_visible()  # fmt: skip
    expect(page.get_by_text("Account: DU***567", exact=True).first).to_be_visible()
    _idle(page)
    _shot(page, "bracket-confirm")

    page.get_by_role("button", name="Confirm and send bracket").click()
    placed = page.get_by_text(re.compile(r"^Bracket \S+ placed: open$"))
    expect(placed).to_be_visible(timeout=UI_TIMEOUT)
    _idle(page)
    ids = [row[1] for row in _grid_rows(page, "Leg")]  # Leg, Order id, Status, IBKR status, Log id
    assert len(ids) == 3 and all(i.isdigit() for i in ids), ids
    group = f"bracket {ids[0]}"
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    shown: list[list[str]] = []
    while time.monotonic() < deadline:  # the live table follows the order stream
        shown = [row for row in _grid_rows(page, "Group") if row and row[0] in ids]
        if len(shown) == 3:
            break
        page.wait_for_timeout(250)
    assert [row[:2] for row in shown] == [[ids[0], group], [ids[1], group], [ids[2], group]], shown
    everything = [row[0] for row in _grid_rows(page, "Group")]
    first = everything.index(ids[0])
    assert everything[first : first + 3] == ids  # parent, take-profit, stop-loss side by side
    _shot(page, "bracket-live-orders")
    other_platform.cancel_order(int(ids[0]))  # the parent's cancel takes the group with it


def test_daily_candles_have_no_weekend_gaps_in_chromium(
    trading_dashboard: Dashboard, browser_page: Any
) -> None:
    """A month of AAPL's daily bars (trading days only) drawn on the category axis: the chart draws
    (Vega accepts the spec) and the screenshot shows the bars side by side, no weekend gaps."""
    from playwright.sync_api import expect

    page = browser_page
    page.get_by_role("tab", name="Market Data").click()
    load = page.get_by_role("button", name="Load chart")
    expect(load).to_be_visible(timeout=UI_TIMEOUT)
    _pick(page, "Period", "1m")
    _pick(page, "Bar", re.compile(r"^1d$"))
    load.click()
    expect(page.get_by_text(re.compile(r"^\d+ bars$"))).to_be_visible(timeout=UI_TIMEOUT)
    _charts_drawn(page, 1)
    _shot(page, "candles-daily")
