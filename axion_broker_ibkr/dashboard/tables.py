"""One way to draw a table on the page: view-model rows -> ``st.dataframe``, formatted for a person.

The view-models keep raw values (numbers stay numbers, ``None`` when IBKR sent nothing); the
display is a pandas ``Styler`` over them: money with thousands separators and the row's currency,
percentages with ``%`` in green/red, volumes grouped, prices with every digit IBKR sent, and a
dash (never a literal ``None``/``nan``) where a value is missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

#: Columns holding money: shown with thousands separators and the row's ``Currency`` when it has one.
MONEY_COLUMNS = frozenset(
    {
        "Cash", "Settled cash", "Cash in base", "Net liquidation", "Unrealized P&L", "Realized P&L",
        "Market value", "Daily P&L", "Excess liquidity", "Margin value", "Commission", "Net amount",
    }
)  # fmt: skip
#: Money columns whose sign is the news: green when positive, red when negative.
#: Money columns in the account's base currency whatever the row's currency (no row suffix).
BASE_MONEY_COLUMNS = frozenset({"Cash in base"})
#: Computed averages: at most 4 decimals (306.6909091 -> 306.6909), at least 2.
AVERAGE_COLUMNS = frozenset({"Avg cost", "Avg fill"})
SIGNED_COLUMNS = frozenset({"Unrealized P&L", "Realized P&L", "Daily P&L", "P&L", "Change", "Change %"})
PERCENT_COLUMNS = frozenset({"Change %", "Percent", "Weight %"})
VOLUME_COLUMNS = frozenset({"Volume", "volume", "Bid size", "Ask size"})
QUANTITY_COLUMNS = frozenset({"Quantity", "Filled", "Remaining", "Size", "Positions"})
PRICE_COLUMNS = frozenset(
    {"Price", "Avg fill", "Avg cost", "Last", "Bid", "Ask", "High", "Low", "Spread", "Strike", "Rate to base"}
)
#: What a cell IBKR sent no value for shows. Not "": Streamlit's grid then falls back to the raw
#: null and draws a literal "None".
EMPTY = "—"
UP = "color: #06982d"
DOWN = "color: #d62728"
_ROW_PX = 35


def missing(value: Any) -> bool:
    """``None``, NaN and NaT: a value IBKR did not send (shown as a dash)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def money_text(value: Any, currency: str | None = None) -> str:
    """``1234567.891, "USD"`` -> ``1,234,567.89 USD``; missing -> ``—``."""
    if missing(value):
        return EMPTY
    text = f"{float(value):,.2f}"
    return f"{text} {currency}" if currency else text


def percent_text(value: Any) -> str:
    """``1.234`` (already in percent, as IBKR's field 83) -> ``+1.23%``; missing -> ``—``."""
    if missing(value):
        return EMPTY
    return f"{float(value):+.2f}%"


def grouped_text(value: Any) -> str:
    """``1234567`` -> ``1,234,567``; fractional sizes keep their digits (``0.5``)."""
    if missing(value):
        return EMPTY
    number = float(value)
    if number == int(number):
        return f"{int(number):,}"
    return f"{number:,.10f}".rstrip("0").rstrip(".")


def price_text(value: Any) -> str:
    """Every digit of a price (no 4-significant-digit cut), thousands grouped; missing -> ``—``."""
    if missing(value):
        return EMPTY
    number = float(value)
    if not math.isfinite(number):
        return EMPTY
    text = f"{number:,.10f}".rstrip("0").rstrip(".")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def average_text(value: Any) -> str:
    if missing(value):
        return EMPTY
    return price_text(round(float(value), 4))


def _currency(value: Any) -> str | None:
    """A row's ``Currency`` cell when it is a currency code (``USD``), not a label (``Total (base)``)."""
    text = "" if missing(value) else str(value).strip()
    return text if len(text) == 3 and text.isalpha() and text.isupper() else None


def plain_text(value: Any) -> str:
    if missing(value):
        return EMPTY
    if isinstance(value, float):
        return grouped_text(value)
    return str(value)


def sign_colour(value: Any) -> str:
    if missing(value) or not isinstance(value, int | float):
        return ""
    return UP if value > 0 else DOWN if value < 0 else ""


def level_percent_text(value: Any) -> str:
    """A level in percent (implied volatility): ``23.4`` -> ``23.40%``."""
    return EMPTY if missing(value) else f"{float(value):.2f}%"


def _formatter(column: str) -> Callable[[Any], str]:
    if column in AVERAGE_COLUMNS:
        return average_text
    if column.endswith("IV %"):
        return level_percent_text
    if column.lower().endswith((" bid", " ask", " last")):
        return price_text
    if column in PERCENT_COLUMNS:
        return percent_text
    if column in MONEY_COLUMNS:
        return money_text
    if column in VOLUME_COLUMNS or column in QUANTITY_COLUMNS:
        return grouped_text
    if column in PRICE_COLUMNS:
        return price_text
    return plain_text


def _as_text(frame: pd.DataFrame, column: Any) -> list[str]:
    """A column's display text, cell by cell (money with its row's currency)."""
    fmt = _formatter(str(column))
    if column in MONEY_COLUMNS and column not in BASE_MONEY_COLUMNS and "Currency" in frame.columns:
        return [money_text(v, _currency(c)) for v, c in zip(frame[column], frame["Currency"], strict=True)]
    return [fmt(v) for v in frame[column]]


def prepared(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every column that has a missing value turned into its display text (a dash
    where the value is missing). Streamlit's grid draws a null cell as a literal "None" whatever the
    Styler says, so such a column is sent as text; complete columns stay numbers (they sort)."""
    out = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) and all(isinstance(v, str) for v in values):
            continue
        if values.map(missing).any():
            out[column] = _as_text(frame, column)
    return out


def styled(frame: pd.DataFrame) -> Any:
    """The display of ``frame`` (a ``Styler`` over :func:`prepared` data; complete numeric columns
    keep their raw values underneath)."""
    frame = prepared(frame)
    styler = frame.style
    currencies = frame["Currency"] if "Currency" in frame.columns else None
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):  # text (maybe made by prepared())
            if column in SIGNED_COLUMNS:
                styler = styler.map(_text_sign_colour, subset=[column])
            continue
        fmt = _formatter(str(column))
        if column in MONEY_COLUMNS and column not in BASE_MONEY_COLUMNS and currencies is not None:
            codes = currencies.map(_currency)
            for ccy in codes.dropna().unique():
                rows = frame.index[codes == ccy]
                styler = styler.format(
                    lambda v, c=str(ccy): money_text(v, c), subset=pd.IndexSlice[rows, [column]]
                )
            rest = frame.index[codes.isna()]
            if len(rest):
                styler = styler.format(money_text, subset=pd.IndexSlice[rest, [column]])
        else:
            styler = styler.format(fmt, subset=[column])
        if column in SIGNED_COLUMNS:
            styler = styler.map(sign_colour, subset=[column])
    return styler


def _text_sign_colour(value: Any) -> str:
    text = str(value)
    if text.startswith("-"):
        return DOWN
    if text.startswith("+") or (text[:1].isdigit() and text.strip("0.,% ")[:1].isdigit()):
        return UP
    return ""


def table(rows: Sequence[dict[str, Any]], key: str, *, all_rows: bool = False) -> None:
    """Draw ``rows``; ``all_rows`` sizes the table so that no row needs scrolling."""
    frame = pd.DataFrame(list(rows))
    height: int | str = (len(frame) + 1) * _ROW_PX + 3 if all_rows else "auto"
    data = styled(frame) if len(frame) else frame
    st.dataframe(data, hide_index=True, key=key, height=height)  # type: ignore[arg-type]
