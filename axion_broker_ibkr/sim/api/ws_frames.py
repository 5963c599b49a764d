"""WebSocket text (REFERENCE §6.2): client frames, the ``api`` cookie, ledger and summary key names."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

#: ledger key (REST) -> sld field name (ws), as examples/ws_sld.json spells them.
SLD_NAMES = {
    "acctcode": "acctCode",
    "cashbalance": "cashbalance",
    "cashbalancefxsegment": "cashBalanceFXSegment",
    "commoditymarketvalue": "commodityMarketValue",
    "corporatebondsmarketvalue": "corporateBondsMarketValue",
    "dividends": "dividends",
    "exchangerate": "exchangeRate",
    "funds": "funds",
    "futuremarketvalue": "marketValue",
    "stockoptionmarketvalue": "optionMarketValue",
    "interest": "interest",
    "issueroptionsmarketvalue": "issueOptionsMarketValue",
    "moneyfunds": "moneyFunds",
    "netliquidationvalue": "netLiquidationValue",
    "realizedpnl": "realizedPnl",
    "unrealizedpnl": "unrealizedPnl",
    "secondkey": "secondKey",
    "settledcash": "settledCash",
    "severity": "severity",
    "stockmarketvalue": "stockMarketValue",
    "tbillsmarketvalue": "tBillsMarketValue",
    "tbondsmarketvalue": "tBondsMarketValue",
    "warrantsmarketvalue": "warrantsMarketValue",
}


#: ``ssd`` spells the summary keys in CamelCase (``NetLiquidation``, ``AccruedCash-S``).
SSD_WORDS = [
    "Previous Day Equity With Loan Value",
    "Look Ahead Available Funds",
    "Look Ahead Excess Liquidity",
    "Look Ahead Init Margin Req",
    "Look Ahead Maint Margin Req",
    "Full Available Funds",
    "Full Excess Liquidity",
    "Full Init Margin Req",
    "Full Maint Margin Req",
    "Equity With Loan Value",
    "Gross Position Value",
    "Net Liquidation",
    "Total Cash Value",
    "Settled Cash",
    "Reg T Equity",
    "Reg T Margin",
    "SMA",
    "Init Margin Req",
    "Maint Margin Req",
    "Available Funds",
    "Available To Trade",
    "Available To Withdraw",
    "Excess Liquidity",
    "Buying Power",
    "Accrued Cash",
    "Accrued Dividend",
    "Leverage",
    "Cushion",
    "Day Trades Remaining",
    "Account Code",
    "Account Type",
    "Account Ready",
    "Trading Type",
    "Segment Title",
]
SSD_NAMES = {w.replace(" ", "").lower(): w.replace(" ", "") for w in SSD_WORDS}


def ssd_key(name: str) -> str:
    """``netliquidation-s`` -> ``NetLiquidation-S``."""
    base, _, segment = name.partition("-")
    key = SSD_NAMES.get(base, base)
    return f"{key}-{segment.upper()}" if segment else key


def session_from_cookie(raw: str | None) -> str | None:
    """The ``api`` cookie in both documented forms: ``{"session":"..."}`` (maybe URL-encoded) or bare."""
    if not raw:
        return None
    value = unquote(raw).strip().strip('"') if not raw.startswith("{") else raw
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            return None
        return str(data.get("session", "")) or None if isinstance(data, dict) else None
    return value or None


def parse_message(text: str) -> tuple[str, list[str], dict[str, Any]]:
    """``smd+265598+{"fields":[...]}`` -> ("smd", ["265598"], {...})."""
    brace = text.find("{")
    head, body = (text[:brace], text[brace:]) if brace >= 0 else (text, "")
    parts = [p for p in head.split("+") if p]
    args: dict[str, Any] = {}
    if body:
        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            args = loaded
    topic = parts[0] if parts else ""
    return topic, parts[1:], args


def ntf_frame(notice_id: str, text: str, title: str = "", url: str = "") -> dict[str, Any]:
    """An ``ntf`` notification.

    Shape: IBKR's WebSocket documentation (REFERENCE §6.3, unsolicited topics):
    ``{"topic":"ntf","args":{"id","text","title","url"}}``; public clients' fixtures built from the
    docs use the same object form. What a real gateway writes into ``text``/``title`` for an order
    event is not documented (REFERENCE §10), so the wording below is the simulator's own; clients
    should not depend on it beyond "mentions the order".
    """
    return {"topic": "ntf", "args": {"id": notice_id, "text": text, "title": title, "url": url}}


def blt_frame(bulletin_id: str, message: str) -> dict[str, Any]:
    """A ``blt`` bulletin; shape from IBKR's WebSocket documentation (REFERENCE §6.3):
    ``{"topic":"blt","args":{"id","message"}}``."""
    return {"topic": "blt", "args": {"id": bulletin_id, "message": message}}


def order_notice_text(order_id: int, description: str, status: str) -> tuple[str, str]:
    """(title, text) of the simulator's ``ntf`` for an order status change (its own wording)."""
    return f"Order {status}", f"Order {order_id} ({description}): {status}"
