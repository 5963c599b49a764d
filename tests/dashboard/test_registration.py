"""The page reaches the host through the ``axion_dashboard_pages`` hook (HOST_CONTRACT §2)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from tests.host.multi_broker import MultiBroker

ROOT = Path(__file__).resolve().parents[2]
HOST_APP = Path(__file__).with_name("host_app.py")


def test_host_gets_the_ibkr_page_entry() -> None:
    pages = [p for p in MultiBroker().dashboard_pages() if p.get("broker") == "ibkr"]
    assert len(pages) == 1
    page = pages[0]
    assert {k: v for k, v in page.items() if k != "render"} == {
        "broker": "ibkr",
        "title": "IBKR",
        "icon": ":material/public:",
        "section": "Trading & Execution",
    }
    assert callable(page["render"])
    assert not inspect.signature(page["render"]).parameters


def test_asking_for_pages_imports_no_streamlit() -> None:
    code = (
        "import sys\n"
        "from tests.host.multi_broker import MultiBroker\n"
        "pages = MultiBroker().dashboard_pages()\n"
        "assert pages, 'no pages'\n"
        "assert 'streamlit' not in sys.modules, 'streamlit imported by the hook'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_reference_host_navigation_renders_the_page(page: object) -> None:
    from streamlit.testing.v1 import AppTest

    from .conftest import APP_TIMEOUT

    at = AppTest.from_file(str(HOST_APP), default_timeout=APP_TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [h.value for h in at.header] == ["Interactive Brokers"]
    assert "SIMULATOR" in at.warning[0].value
    assert any(m.label == "Net liquidation" for m in at.metric)
