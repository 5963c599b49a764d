"""The page reaches the host through the ``axion_dashboard_pages`` hook (HOST_CONTRACT §2)."""

from __future__ import annotations

import inspect
import subprocess
import sys

from tests.host.multi_broker import MultiBroker


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
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("tests").__path__[0] + "/.."))
