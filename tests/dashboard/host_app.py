"""A tiny host page: the reference host builds its navigation from ``axion_dashboard_pages``
and runs the selected page, exactly as Axion does (AppTested by test_host_page.py)."""

from __future__ import annotations

import streamlit as st

from tests.host.multi_broker import MultiBroker

host = MultiBroker()
sections: dict[str, list[st.Page]] = {}
for entry in host.dashboard_pages():
    page = st.Page(entry["render"], title=entry["title"], icon=entry["icon"], url_path=entry["broker"])
    sections.setdefault(entry["section"], []).append(page)
st.navigation(sections).run()
