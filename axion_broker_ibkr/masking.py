"""Masking of account ids and session tokens for logs, errors and the page."""

from __future__ import annotations

import re
import threading

_ACCOUNT_RE = re.compile(r"\b(DU|DF|U|F|I)(\d{3,})\b")
#: ``oauth_token=...`` in a URL (the OAuth WebSocket) or an Authorization header's parameters
_OAUTH_PARAM_RE = re.compile(r'(oauth_(?:token|signature|nonce)=)"?([^"&\s,]+)"?')
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()


def register_secret(value: str | None) -> None:
    """A secret (OAuth token, access token secret, prepend) that :func:`mask_text` blanks out
    wherever it appears; values shorter than 8 characters are not registered (too common)."""
    if value and len(value) >= 8:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


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
    """Mask every account id, OAuth parameter value and registered secret in free text (error
    messages, log lines)."""
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    text = _OAUTH_PARAM_RE.sub(lambda m: m.group(1) + "***", text)
    return _ACCOUNT_RE.sub(lambda m: mask_account(m.group(0)), text)


def is_paper_account(account_id: str | None) -> bool:
    """IBKR paper accounts start with ``DU`` (individual) or ``DF`` (advisor)."""
    return bool(account_id) and str(account_id).upper().startswith(("DU", "DF"))
