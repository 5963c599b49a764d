"""Altair charts of the page (Altair comes with Streamlit); built from view-model rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

UP = "#06982d"
DOWN = "#ae1325"


def candle_chart(rows: Sequence[dict[str, Any]], title: str) -> alt.LayerChart | alt.FacetChart:
    """Candlesticks over :func:`~.vm_market.candle_rows`: a high-low wick and an open-close body,
    green when the bar closed at or above its open, red otherwise."""
    frame = pd.DataFrame(list(rows))
    color = alt.condition("datum.open <= datum.close", alt.value(UP), alt.value(DOWN))
    base = alt.Chart(frame, title=title).encode(
        x=alt.X("time:T", title=None),
        color=color,
        tooltip=["time:T", "open:Q", "high:Q", "low:Q", "close:Q", "volume:Q"],
    )
    wick = base.mark_rule().encode(y=alt.Y("low:Q", scale=alt.Scale(zero=False), title="Price"), y2="high:Q")
    body = base.mark_bar(size=max(2, min(12, 600 // max(1, len(frame))))).encode(y="open:Q", y2="close:Q")
    return alt.layer(wick, body)
