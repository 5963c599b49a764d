"""Masking of account ids and session tokens for logs, errors and the page."""

from __future__ import annotations

import re

_ACCOUNT_RE = re.compile(r"\b(DU|DF|U|F|I)(\d{3,})\b")
#: ``oauth_token=...`` in a URL (the OAuth WebSocket) or an Authorization header's parameters
_OAUTH_PARAM_RE = re.compile(r'(oauth_(?:token|signature|nonce)=)"?([^"&\s,]+)"?')
#: Registered secrets, longest first. An immutable tuple replaced on write, so readers never see
#: it change under them and the module needs no lock (it stays I/O- and thread-free).
_SECRETS: tuple[str, ...] = ()


def register_secret(value: str | None) -> None:
    """A secret (OAuth token, access token secret, prepend) that :func:`mask_text` blanks out
    wherever it appears; values shorter than 8 characters are not registered (too common)."""
    global _SECRETS
    if not value or len(value) < 8:
        return
    # Two threads registering at once may each replace the tuple; the loop re-checks, so a lost
    # write is redone by the thread whose secret is missing.
    while value not in _SECRETS:
        _SECRETS = tuple(sorted({*_SECRETS, value}, key=len, reverse=True))


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
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    text = _OAUTH_PARAM_RE.sub(lambda m: m.group(1) + "***", text)
    return _ACCOUNT_RE.sub(lambda m: mask_account(m.group(0)), text)


def is_paper_account(account_id: str | None) -> bool:
    """IBKR paper accounts start with ``DU`` (individual) or ``DF`` (advisor)."""
    return bool(account_id) and str(account_id).upper().startswith(("DU", "DF"))
