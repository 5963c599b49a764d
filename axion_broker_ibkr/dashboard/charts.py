"""Altair charts of the page (Altair comes with Streamlit); built from view-model rows."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

UP = "#06982d"
DOWN = "#ae1325"
#: At most this many labels on the time axis (every n-th bar is labelled).
AXIS_LABELS = 10


def bar_labels(times: Sequence[dt.datetime]) -> list[str]:
    """One category per bar: its date for daily (or longer) bars, date and time otherwise (UTC).

    The candle chart's time axis is a category axis over these: only bars that exist are drawn, so
    weekends, holidays and the hours a market is shut leave no gap (a time axis would draw them)."""
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    daily = bool(gaps) and min(gaps) >= 20 * 3600
    fmt = "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"
    labels = [t.strftime(fmt) for t in times]
    if len(set(labels)) != len(labels):  # two bars on one date (a half day): keep them apart
        labels = [t.strftime("%Y-%m-%d %H:%M") for t in times]
    return labels


def candle_chart(rows: Sequence[dict[str, Any]], title: str) -> alt.LayerChart | alt.FacetChart:
    """Candlesticks over :func:`~.vm_market.candle_rows` (time order): a high-low wick and an
    open-close body, green when the bar closed at or above its open, red otherwise. The x axis is
    one category per bar (:func:`bar_labels`), so non-trading days are not drawn."""
    frame = pd.DataFrame(list(rows))
    labels = bar_labels(list(frame["time"])) if len(frame) else []
    frame["bar"] = labels
    step = max(1, math.ceil(len(labels) / AXIS_LABELS))
    axis = alt.Axis(values=labels[::step], labelAngle=0, labelOverlap=True, title=None)
    color = alt.condition("datum.open <= datum.close", alt.value(UP), alt.value(DOWN))
    base = alt.Chart(frame, title=title).encode(
        x=alt.X("bar:O", sort=labels, axis=axis, scale=alt.Scale(paddingInner=0.25)),
        color=color,
        tooltip=["time:T", "open:Q", "high:Q", "low:Q", "close:Q", "volume:Q"],
    )
    wick = base.mark_rule().encode(y=alt.Y("low:Q", scale=alt.Scale(zero=False), title="Price"), y2="high:Q")
    body = base.mark_bar().encode(y="open:Q", y2="close:Q")
    return alt.layer(wick, body)
