"""Order models: replies to a submission, live orders, statuses, executions, and the plugin's
:class:`OrderResult`."""

from __future__ import annotations

import math
from typing import Any

from attrs import define, field

from ..masking import mask_account


@define(frozen=True, kw_only=True)
class OrderAck:
    """An accepted order: ``[{"order_id": "123", "order_status": "Submitted", ...}]``."""

    order_id: str | None = None
    order_status: str | None = None
    encrypt_message: str | None = None
    parent_order_id: str | None = None
    local_order_id: str | None = None


@define(frozen=True, kw_only=True)
class OrderQuestion:
    """An order reply message (question) that must be confirmed or refused."""

    id: str
    message: list[str] = field(factory=list)
    message_ids: list[str] = field(factory=list)
    is_suppressed: bool | None = None


@define(frozen=True, kw_only=True)
class OrderReject:
    """HTTP 200 with ``{"error": ...}``: a business rejection."""

    error: str


OrderReply = list[OrderAck] | list[OrderQuestion] | OrderReject


@define(frozen=True, kw_only=True)
class CancelAck:
    """``DELETE /iserver/account/{acct}/order/{id}``: an acknowledgement, not a final state."""

    msg: str | None = None
    order_id: int | None = None
    conid: int | None = None
    account: str | None = None


@define(frozen=True, kw_only=True)
class WhatIfAmount:
    amount: str | None = None
    commission: str | None = None
    total: str | None = None


@define(frozen=True, kw_only=True)
class WhatIfChange:
    current: str | None = None
    change: str | None = None
    after: str | None = None


@define(frozen=True, kw_only=True)
class WhatIf:
    """``POST .../orders/whatif``: values are IBKR's formatted text; see the ``*_value`` helpers."""

    amount: WhatIfAmount | None = None
    equity: WhatIfChange | None = None
    initial: WhatIfChange | None = None
    maintenance: WhatIfChange | None = None
    position: WhatIfChange | None = None
    warn: str | None = None
    error: str | None = None


@define(frozen=True, kw_only=True)
class Order:
    """A live order (``/iserver/account/orders`` row, or a merged ws ``sor`` state).

    ``price`` and ``avg_price`` arrive as strings and are parsed; ``client_order_id`` is IBKR's
    ``order_ref`` (our ``cOID``).
    """

    order_id: int | None = None
    account: str | None = None
    acct: str | None = None
    conid: int | None = None
    conidex: str | None = None
    cash_ccy: str | None = None
    size_and_fills: str | None = None
    order_desc: str | None = None
    description1: str | None = None
    description2: str | None = None
    ticker: str | None = None
    sec_type: str | None = None
    listing_exchange: str | None = None
    exchange: str | None = None
    remaining_quantity: float | None = None
    filled_quantity: float | None = None
    total_size: float | None = None
    total_cash_size: float | None = None
    company_name: str | None = None
    status: str | None = None
    order_ccp_status: str | None = None
    orig_order_type: str | None = None
    order_type: str | None = None
    supports_tax_opt: str | None = None
    last_execution_time: str | None = None
    last_execution_time_r: int | None = None
    price: float | None = None
    aux_price: float | None = None
    avg_price: float | None = None
    client_order_id: str | None = None
    time_in_force: str | None = None
    side: str | None = None
    outside_rth: bool | None = None
    parent_id: int | None = None
    bg_color: str | None = None
    fg_color: str | None = None


@define(frozen=True, kw_only=True)
class LiveOrders:
    orders: list[Order] = field(factory=list)
    snapshot: bool | None = None


@define(frozen=True, kw_only=True)
class OrderStatus:
    """``GET /iserver/account/order/status/{id}`` (snake_case on the wire)."""

    order_id: int | None = None
    conid: int | None = None
    conidex: str | None = None
    symbol: str | None = None
    side: str | None = None
    account: str | None = None
    order_type: str | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    size: float | None = None
    total_size: float | None = None
    cum_fill: float | None = None
    average_price: float | None = None
    currency: str | None = None
    order_status: str | None = None
    order_ccp_status: str | None = None
    order_status_description: str | None = None
    tif: str | None = None
    sec_type: str | None = None
    listing_exchange: str | None = None
    company_name: str | None = None
    contract_description_1: str | None = None
    order_description: str | None = None
    order_description_with_contract: str | None = None
    order_not_editable: bool | None = None
    cannot_cancel_order: bool | None = None
    deactivate_order: bool | None = None
    editable_fields: str | None = None
    child_order_type: str | None = None
    size_and_fills: str | None = None
    order_time: str | None = None
    outside_rth: bool | None = None
    request_id: str | None = None
    server_id: str | None = None
    sub_type: str | None = None


@define(frozen=True, kw_only=True)
class Trade:
    """One execution (``/iserver/account/trades`` row or ws ``str`` item)."""

    execution_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_description: str | None = None
    trade_time: str | None = None
    trade_time_r: int | None = None
    size: float | None = None
    price: float | None = None
    client_order_id: str | None = None
    order_id: int | None = None
    submitter: str | None = None
    exchange: str | None = None
    commission: float | None = None
    net_amount: float | None = None
    account: str | None = None
    account_code: str | None = None
    company_name: str | None = None
    contract_description_1: str | None = None
    contract_description_2: str | None = None
    sec_type: str | None = None
    listing_exchange: str | None = None
    conid: int | None = None
    conidex: str | None = None
    open_close: str | None = None
    liquidation_trade: str | None = None


@define(frozen=True)
class PendingQuestion:
    """An IBKR question held for the caller (``place_order(..., hold_questions=True)``): neither
    answered nor declined yet. ``reply_id`` is IBKR's ``/iserver/reply/{id}``; ``message_ids`` and
    ``messages`` are index-aligned (REFERENCE §4.3); ``asked_at``/``expires_at`` are epoch seconds
    (the window in which the same order can still be answered, ``orderpath.REPLY_WINDOW_S``).
    Answer it with ``client.answer_question(client_order_id, yes)``."""

    reply_id: str
    message_ids: tuple[str, ...]
    messages: tuple[str, ...]
    asked_at: float
    expires_at: float

    def to_host(self) -> dict[str, Any]:
        return {
            "reply_id": self.reply_id,
            "message_ids": list(self.message_ids),
            "messages": list(self.messages),
            "asked_at": self.asked_at,
            "expires_at": self.expires_at,
        }


@define(frozen=True, kw_only=True)
class LegResult:
    """One order of a group (bracket / OCO / OTO) as placed: its role, ids and status.

    ``client_order_id`` is the leg's own (derived) id, the key of its order-log row; bracket and OTO
    children do not carry it on the wire (IBKR links them by ``parentId``)."""

    role: str  # "entry" | "take_profit" | "stop_loss" | "then" | "oco"
    client_order_id: str
    order_id: str | None
    status: str
    ibkr_status: str | None = None

    def to_host(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "client_order_id": self.client_order_id,
            "order_id": self.order_id,
            "status": self.status,
            "ibkr_status": self.ibkr_status,
        }


@define(frozen=True, kw_only=True, repr=False)
class OrderResult:
    """What place/modify returns: the host's vocabulary in ``status``, IBKR's in ``ibkr_status``.

    ``transcript`` is the question/answer exchange (for the order log); ``mode`` says whether the
    order went to a real gateway or the simulator. The account id is kept whole here and masked
    in ``repr`` (and therefore in logs).
    """

    order_id: str | None
    client_order_id: str
    status: str
    mode: str
    account_id: str
    ibkr_status: str | None = None
    fill_price: float | None = None
    fill_qty: float = 0.0
    fee: float | None = None
    message: str = ""
    transcript: list[dict[str, Any]] = field(factory=list)
    #: An IBKR question held for the caller (``status="pending"``, ``ibkr_status=None``): the order
    #: is not at IBKR until ``answer_question(client_order_id, True)``.
    question: PendingQuestion | None = None
    #: An order group's id (the parent's cOID, or the OCO group's) and every leg, parent first;
    #: the result's own ids and status are the parent's (an OCO's: its first order's).
    group_id: str | None = None
    legs: tuple[LegResult, ...] = ()

    def __repr__(self) -> str:
        return (
            f"OrderResult(order_id={self.order_id!r}, client_order_id={self.client_order_id!r}, "
            f"status={self.status!r}, ibkr_status={self.ibkr_status!r}, mode={self.mode!r}, "
            f"account_id={mask_account(self.account_id)!r}, fill_qty={self.fill_qty!r}, "
            f"fill_price={self.fill_price!r}, message={self.message!r}"
            + (f", question={self.question.message_ids!r}" if self.question is not None else "")
            + ")"
        )

    def to_host(self) -> dict[str, Any]:
        """The order-result dict of HOST_CONTRACT §4 (plus ``mode``, ``ibkr_status``, ``transcript``).

        Every number the host reads with ``float()`` is a float: ``fill_price``/``fee`` are 0.0
        when IBKR has not reported one, and ``fill_price_known``/``fee_known`` say which it is.
        """
        out: dict[str, Any] = {
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "status": self.status,
            "fill_price": host_number(self.fill_price),
            "fill_qty": host_number(self.fill_qty),
            "fee": host_number(self.fee),
            "fill_price_known": self.fill_price is not None,
            "fee_known": self.fee is not None,
            "message": self.message,
            "ibkr_status": self.ibkr_status,
            "mode": self.mode,
            "account_id": self.account_id,
            "transcript": list(self.transcript),
        }
        if self.question is not None:
            out["question"] = self.question.to_host()
        if self.legs:
            out["group_id"] = self.group_id
            out["legs"] = [leg.to_host() for leg in self.legs]
        return out


def host_number(value: Any) -> float:
    """A number the host can ``float()``: ``value`` as a float, 0.0 when missing or not finite."""
    if value is None or isinstance(value, bool):
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0
