"""Orders, executions, positions and what-if previews in the gateway's JSON shapes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ...errors import TicketError
from ..engine.order_engine import COMMISSION, Reply
from ..engine.paper_accounts import Position, margin, position_value
from ..engine.paper_market import Market, fmt_price
from ..engine.tickets import check_price_reject
from ..engine.universe import Instrument
from .account_views import ledger

if TYPE_CHECKING:
    from ..engine.order_engine import Execution, Order, OrderEngine
    from ..engine.tickets import Ticket

ORIG_TYPE = {
    "LMT": "LIMIT",
    "MKT": "MARKET",
    "STP": "STOP",
    "STOP_LIMIT": "STOP_LIMIT",
    "TRAIL": "TRAIL",
    "TRAILLMT": "TRAILLMT",
    "MIDPRICE": "MIDPRICE",
}
TYPE_TEXT = {
    "LMT": "Limit",
    "MKT": "Market",
    "STP": "Stop",
    "STOP_LIMIT": "Stop Limit",
    "TRAIL": "Trail",
    "TRAILLMT": "Trail Limit",
    "MIDPRICE": "Midprice",
}
#: ``order_ccp_status`` of the order-status endpoint is a numeric string; only "0" (PreSubmitted) and
#: "2" (Filled) are documented, the rest follow the same internal numbering [unconfirmed].
CCP_CODE = {
    "PreSubmitted": "0",
    "Submitted": "1",
    "Filled": "2",
    "Cancelled": "3",
    "PendingCancel": "4",
    "Inactive": "5",
    "PendingSubmit": "6",
}


def ymdhms(ms: int) -> str:
    """``YYMMDDhhmmss`` in UTC (``lastExecutionTime``, ``order_time``)."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%y%m%d%H%M%S")


def _qty(value: float) -> str:
    return f"{value:g}"


def order_description(order: Order, with_contract: bool = False) -> str:
    t = order.ticket
    done = order.status == "Filled"
    verb = ("Bought" if t.side == "BUY" else "Sold") if done else ("Buy" if t.side == "BUY" else "Sell")
    what = f" {order.inst.symbol}" if with_contract else ""
    price = ""
    if t.price is not None and t.order_type != "MKT":
        price = f" {fmt_price(order.inst, t.price)}"
    tif = {"DAY": "Day", "GTC": "GTC"}.get(t.tif, t.tif)
    if done:
        return f"{verb} {_qty(t.quantity)}{what} {TYPE_TEXT[t.order_type]}{price}, {tif}"
    return f"{verb} {_qty(t.quantity)}{what} {TYPE_TEXT[t.order_type]}{price} {tif}"


def size_and_fills(order: Order) -> str:
    if order.status == "Filled":
        return _qty(order.ticket.quantity)
    return f"{_qty(order.filled)}/{_qty(order.ticket.quantity)}"


def live_order(order: Order, for_ws: bool = False) -> dict[str, Any]:
    """One element of ``/iserver/account/orders`` (``for_ws``: the ``sor`` variant, price a number)."""
    t = order.ticket
    inst = order.inst
    out: dict[str, Any] = {
        "acct": order.account,
        "conidex": f"{inst.conid}@{t.routing}" if t.routing not in {"SMART"} else str(inst.conid),
        "conid": inst.conid,
        "account": order.account,
        "orderId": order.order_id,
        "cashCcy": inst.currency,
        "sizeAndFills": size_and_fills(order),
        "orderDesc": order_description(order),
        "description1": inst.symbol,
        "ticker": inst.symbol,
        "secType": inst.sec_type,
        "listingExchange": inst.listing_exchange,
        "remainingQuantity": float(order.remaining) if order.is_open else 0.0,
        "filledQuantity": float(order.filled),
        "totalSize": float(t.quantity),
        "companyName": inst.name,
        "status": order.status,
        "order_ccp_status": order.status,
        "origOrderType": ORIG_TYPE[t.order_type],
        "supportsTaxOpt": "1",
        "lastExecutionTime": ymdhms(order.last_exec_ms or order.created_ms),
        "orderType": TYPE_TEXT[t.order_type],
        "bgColor": "#FFFFFF" if order.status == "Filled" else "#000000",
        "fgColor": "#000000" if order.status == "Filled" else "#00F000",
        "timeInForce": t.tif,
        "lastExecutionTime_r": order.last_exec_ms or order.created_ms,
        "side": t.side,
        "outsideRTH": t.outside_rth,
    }
    if inst.sec_type in {"OPT", "FUT", "BOND"}:
        out["description2"] = inst.description
    if t.routing != "SMART":
        out["exchange"] = t.routing
    if t.price is not None and t.order_type != "MKT":
        out["price"] = t.price if for_ws else fmt_price(inst, t.price)
    if t.aux_price is not None:
        out["auxPrice"] = t.aux_price if for_ws else fmt_price(inst, t.aux_price)
    if order.filled:
        out["avgPrice"] = fmt_price(inst, order.avg_price)
    if t.coid:
        out["order_ref"] = t.coid
    if order.parent_id is not None:
        # [unconfirmed] REFERENCE §4.8's field list has no parentId; the client's live-order model
        # reads one (``Order.parent_id``) and also matches children by their terms, so both readings work.
        out["parentId"] = order.parent_id
    return out


def order_status(order: Order) -> dict[str, Any]:
    """``/iserver/account/order/status/{id}`` (snake_case, sizes as strings)."""
    t = order.ticket
    inst = order.inst
    side = "B" if t.side == "BUY" else "S"
    done = order.status in {"Filled", "Cancelled", "Inactive"}
    out: dict[str, Any] = {
        "sub_type": None,
        "request_id": str(order.order_id % 1000),
        "server_id": "0",
        "order_id": order.order_id,
        "conidex": str(inst.conid),
        "conid": inst.conid,
        "symbol": inst.symbol,
        "side": side,
        "contract_description_1": inst.symbol,
        "listing_exchange": inst.listing_exchange,
        "option_acct": "c",
        "company_name": inst.name,
        "size": f"{order.remaining if order.is_open else 0.0:.1f}",
        "total_size": f"{t.quantity:.1f}",
        "currency": inst.currency,
        "account": order.account,
        "order_type": ORIG_TYPE[t.order_type],
        "cum_fill": f"{order.filled:.1f}",
        "order_status": order.status,
        "order_ccp_status": CCP_CODE.get(order.status, "1"),
        "order_status_description": {"Filled": "Order Filled", "Cancelled": "Order Cancelled"}.get(
            order.status, f"Order {order.status}"
        ),
        "tif": t.tif,
        "fg_color": "#FFFFFF",
        "bg_color": "#000000",
        "order_not_editable": done,
        "editable_fields": "" if done else "price,quantity,tif",
        "cannot_cancel_order": done,
        "deactivate_order": False,
        "sec_type": inst.sec_type,
        "available_chart_periods": "#R|1",
        "order_description": order_description(order),
        "order_description_with_contract": order_description(order, with_contract=True),
        "alert_active": 1,
        "child_order_type": "A" if order.parent_id is not None else "0",
        "order_clearing_account": order.account,
        "size_and_fills": size_and_fills(order),
        "exit_strategy_display_price": fmt_price(inst, order.avg_price or (t.price or 0.0)),
        "exit_strategy_chart_description": f"{order_description(order)}",
        "average_price": fmt_price(inst, order.avg_price) if order.filled else "",
        "exit_strategy_tool_availability": "1",
        "allowed_duplicate_opposite": True,
        "order_time": ymdhms(order.created_ms),
        "outside_rth": t.outside_rth,
    }
    if t.price is not None and t.order_type != "MKT":
        out["limit_price"] = fmt_price(inst, t.price)
    return out


def trade(execution: Execution, for_ws: bool = False) -> dict[str, Any]:
    """One execution of ``/iserver/account/trades`` (``for_ws``: ``str`` extras)."""
    inst = execution.inst
    side = "B" if execution.side == "BUY" else "S"
    verb = "Bot" if side == "B" else "Sold"
    when = dt.datetime.fromtimestamp(execution.time_ms / 1000, tz=dt.UTC)
    price = fmt_price(inst, execution.price)
    net = execution.quantity * execution.price * inst.multiplier
    out: dict[str, Any] = {
        "execution_id": execution.execution_id,
        "symbol": inst.symbol,
        "supports_tax_opt": "1",
        "side": side,
        "order_description": f"{verb} {_qty(execution.quantity)} @ {price} on {execution.exchange}",
        "trade_time": when.strftime("%Y%m%d-%H:%M:%S"),
        "trade_time_r": execution.time_ms,
        "size": float(execution.quantity),
        "price": price,
        "order_ref": execution.order_ref or "",
        "submitter": "simuser1",
        "exchange": execution.exchange,
        "commission": f"{execution.commission:.2f}",
        "net_amount": round(net, 2),
        "account": execution.account,
        "accountCode": execution.account,
        "account_allocation_name": execution.account,
        "company_name": inst.name,
        "contract_description_1": inst.symbol,
        "sec_type": inst.sec_type,
        "listing_exchange": inst.listing_exchange,
        "conid": inst.conid,
        "conidEx": str(inst.conid),
        "clearing_id": "IB",
        "clearing_name": "IB",
        "liquidation_trade": "0",
        "is_event_trading": "0",
    }
    if for_ws:
        out["contract_description_2"] = inst.description if inst.sec_type != "STK" else ""
        out["open_close"] = "C" if execution.realized else "O"
    return out


def position_row(
    account_id: str, market: Market, inst: Instrument, quantity: float, avg: float, realized: float
) -> dict[str, Any]:
    """One row of ``/portfolio/{acct}/positions/{page}``."""
    pos = Position(inst.conid, quantity, avg, realized)
    value, upnl = position_value(market, inst, pos)
    mult = inst.multiplier if inst.sec_type in {"OPT", "FUT"} else None
    return {
        "acctId": account_id,
        "conid": inst.conid,
        "contractDesc": inst.contract_desc,
        "position": float(quantity),
        "mktPrice": market.last(inst.conid),
        "mktValue": round(value, 2),
        "currency": inst.currency,
        "avgCost": avg * (mult or 1.0),
        "avgPrice": avg,
        "realizedPnl": round(realized, 2),
        "unrealizedPnl": round(upnl, 2),
        "exchs": None,
        "expiry": inst.expiry.strftime("%Y%m%d") if inst.expiry and inst.sec_type in {"OPT", "FUT"} else None,
        "putOrCall": inst.right,
        "multiplier": mult,
        "strike": float(inst.strike or 0.0),
        "exerciseStyle": "AMERICAN" if inst.sec_type == "OPT" else None,
        "conExchMap": [],
        "assetClass": inst.sec_type,
        "undConid": inst.underlying_conid or 0,
        "model": "",
    }


def _money(value: float) -> str:
    return f"{value:,.0f}"


def whatif(engine: OrderEngine, account_path: str, body: Any) -> Reply:
    """``POST /iserver/account/{acct}/orders/whatif``: the first ticket's preview, or the ticket's error."""
    try:
        ticket = engine.parse(body, account_path)[0]
        check_price_reject(ticket, engine.market)
    except TicketError as exc:
        return Reply({"error": exc.message}, exc.status)
    return Reply(whatif_payload(engine, ticket))


def whatif_payload(engine: OrderEngine, ticket: Ticket) -> dict[str, Any]:
    """``/orders/whatif``: formatted strings, like the gateway."""
    inst = ticket.inst
    market = engine.market
    account = engine.accounts[ticket.account]
    q = market.quote(inst.conid)
    price = ticket.price if ticket.price is not None else (q.ask if ticket.side == "BUY" else q.bid)
    value = ticket.quantity * price * inst.multiplier
    per_unit, minimum, cap = COMMISSION.get(inst.sec_type, (0.0, 0.0, 1.0))
    commission = round(min(max(per_unit * ticket.quantity, minimum), max(minimum, value * cap)), 2)
    init, maint = margin(account, market)
    rate = market.fx_rate(inst.currency)
    share = 0.06 if inst.sec_type == "FUT" else 0.25
    d_init = value * rate * share
    d_maint = value * rate * (share - 0.05 if inst.sec_type != "FUT" else 0.05)
    nlv = float(ledger(account, market, 0)["BASE"]["netliquidationvalue"])
    held = account.positions.get(inst.conid)
    current = held.quantity if held else 0.0
    change = ticket.quantity if ticket.side == "BUY" else -ticket.quantity
    unit = {"STK": "Shares", "OPT": "Contracts", "FUT": "Contracts", "CASH": "Units", "BOND": "Face"}[
        inst.sec_type
    ]
    warn = None
    if not engine.session.has_stream(inst.conid, engine.clock.now()):
        warn = (
            "21/You are trying to submit an order without having market data for this instrument. \n"
            "IB strongly recommends against this kind of blind trading which may result in \n"
            "erroneous or unexpected trades."
        )
    return {
        "amount": {
            "amount": f"{value:,.2f} {inst.currency} ({_qty(ticket.quantity)} {unit})",
            "commission": f"{commission:g} {inst.currency}",
            "total": f"{value + commission:,.2f} {inst.currency}",
        },
        "equity": {"current": _money(nlv), "change": _money(-commission), "after": _money(nlv - commission)},
        "initial": {"current": _money(init), "change": _money(d_init), "after": _money(init + d_init)},
        "maintenance": {
            "current": _money(maint),
            "change": _money(d_maint),
            "after": _money(maint + d_maint),
        },
        "position": {"current": _qty(current), "change": _qty(change), "after": _qty(current + change)},
        "warn": warn,
        "error": None,
    }
