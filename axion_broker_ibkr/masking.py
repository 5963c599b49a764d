"""Masking of account ids and session tokens for logs, errors and the page."""

from __future__ import annotations

import re

_ACCOUNT_RE = re.compile(r"\b(DU|DF|U|F|I)(\d{3,})\b")


def mask_account(account_id: str | None) -> str:
    """``DU1234567`` -> ``DU***567``: enough to tell accounts apart, not enough to identify one."""
    if not account_id:
        return ""
    m = _ACCOUNT_RE.fullmatch(account_id)
    if m:
        prefix, digits = m.groups()
        return f"{prefix}***{digits[-3:]}"
    if len(account_id) <= 4:
        return "***"
    return f"{account_id[:2]}***{account_id[-3:]}"


def mask_token(token: str | None) -> str:
    """Session tokens are shown by length only, with the first four characters."""
    if not token:
        return ""
    return f"{token[:4]}…({len(token)} chars)"


def mask_text(text: str) -> str:
    """Mask every account id that appears in free text (error messages, log lines)."""
    return _ACCOUNT_RE.sub(lambda m: mask_account(m.group(0)), text)


def is_paper_account(account_id: str | None) -> bool:
    """IBKR paper accounts start with ``DU`` (individual) or ``DF`` (advisor)."""
    return bool(account_id) and str(account_id).upper().startswith(("DU", "DF"))
