"""One way to draw a table on the page: view-model rows -> ``st.dataframe`` with money formatted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

#: Columns holding money: shown with thousands separators (the view-models keep raw floats).
MONEY_COLUMNS = frozenset(
    {
        "Cash", "Settled cash", "Cash in base", "Net liquidation", "Unrealized P&L", "Realized P&L",
        "Market value", "Daily P&L", "Excess liquidity", "Margin value", "Commission", "Net amount",
    }
)  # fmt: skip
_ROW_PX = 35


def table(rows: Sequence[dict[str, Any]], key: str, *, all_rows: bool = False) -> None:
    """Draw ``rows``; ``all_rows`` sizes the table so that no row needs scrolling."""
    frame = pd.DataFrame(list(rows))
    config: dict[str, Any] = {
        col: st.column_config.NumberColumn(format="localized")
        for col in frame.columns
        if col in MONEY_COLUMNS
    }
    height: int | str = (len(frame) + 1) * _ROW_PX + 3 if all_rows else "auto"
    st.dataframe(frame, hide_index=True, column_config=config, key=key, height=height)  # type: ignore[arg-type]
