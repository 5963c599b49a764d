"""The Streamlit script that ``axion-ibkr dashboard`` runs: page config, then :func:`render`."""

from __future__ import annotations

import streamlit as st

from axion_broker_ibkr.dashboard.page import render

st.set_page_config(page_title="IBKR · Axion", page_icon=":material/public:", layout="wide")
render()
