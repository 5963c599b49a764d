"""``AsyncIBKRClient``: the asyncio driver of the I/O-free core (same method names, awaitable).

Import it from :mod:`axion_broker_ibkr.client`. Blocking work (journal writes, certificate
fetches, starting the embedded simulator) runs in worker threads."""

from __future__ import annotations

import asyncio
from collections.abc import Generator, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from ..config import IBKRConfig
from ..models import (
    Account,
    AuthStatus,
    BondFilter,
    BrokerageSummary,
    CancelAck,
    ContractInfo,
    ContractRules,
    CurrencyPair,
    FutureContract,
    History,
    IBKRContract,
    IServerAccounts,
    LedgerEntry,
    Order,
    OrderResult,
    OrderStatus,
    PnLRow,
    Position,
    Quote,
    SecdefInfo,
    SecdefSearchResult,
    StockInstrument,
    Strikes,
    SummarySection,
    SummaryValue,
    Tickle,
    Trade,
    WhatIf,
)
from ..ops import effects, iserver, marketdata, secdef
from ..ops import requestpolicy as rp
from ..orders.groups import OrderGroup
from ..wire.convert import DEFAULT_QUOTE_FIELDS
from .client_base import LEASE_POLL_S, ClientBase, ContractLike, Endpoint, failure_of
from .primitives import AsyncSemaphores, arun_blocking

T = TypeVar("T")


class AsyncIBKRClient(ClientBase):
    """Asyncio client with the same method names as :class:`IBKRClient` (awaitable)."""

    def __init__(self, config: IBKRConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._http: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()
        self._order_lock = asyncio.Lock()
        self._reauth_lock = asyncio.Lock()
        self._semaphores = AsyncSemaphores()

    # ----------------------------------------------------------------------------- driving

    async def _client(self) -> httpx.AsyncClient:
        async with self._lock:
            if self._endpoint is None:
                self._endpoint = await self._resolve_auto()
            if self._http is None:
                if self._transport is None and self._ssl is None:
                    await arun_blocking(lambda: self.ssl_context)  # may fetch a pinned certificate
                self._http = httpx.AsyncClient(**self._http_kwargs())
            return self._http

    async def _resolve_auto(self) -> Endpoint:
        if self._transport is None:
            listening = await arun_blocking(self._gateway_listening)
            return await arun_blocking(self._choose_after_probe, listening)  # may start the simulator
        try:  # tests: a mock transport; any HTTP answer means something is listening
            async with httpx.AsyncClient(**self._probe_kwargs()) as probe:
                await probe.post("/iserver/auth/status", json={})
        except httpx.TransportError:
            return self._choose_after_probe(False)
        return self._choose_after_probe(True)

    async def _lease(self, req: effects.Request) -> tuple[str, str] | None:
        """A concurrency slot shared with every process pacing this gateway (waits for one)."""
        cap = self._concurrency(req)
        if cap is None:
            return None
        name, limit = cap
        while True:  # polled: the slot may be another process's (no event crosses processes)
            token = self.pacer.try_acquire(name, limit, self._lease_ttl)
            if token is not None:
                return name, token
            await asyncio.sleep(LEASE_POLL_S)

    async def _send(self, req: effects.Request) -> effects.Response:
        """One request through :func:`~.requestpolicy.request_flow` (retries, 429, one
        re-authentication): this driver only executes its steps."""
        await self._client()  # the mode is resolved first: the policy names the endpoint
        return await self._run(rp.request_flow(req, self._policy()))

    async def _attempt(self, req: effects.Request) -> rp.Outcome:
        """Pace, lease and send once; httpx's answer or error becomes a plain value here."""
        http = self._http if self._http is not None else await self._client()
        delay = self.pacer.reserve(req.method, req.path)
        if delay > 0:
            await asyncio.sleep(delay)
        limit = self.pacer.max_concurrent(req.method, req.path)
        try:
            async with self._semaphores.slot(limit):
                lease = await self._lease(req) if limit is not None else None
                try:
                    raw = await http.request(req.method, req.path, params=req.params, json=req.json)
                finally:
                    if lease is not None:
                        self.pacer.release(*lease)
        except httpx.HTTPError as exc:
            return failure_of(exc)
        return self._answered(req, raw)

    async def _reauth(self) -> None:
        async with self._reauth_lock:
            self._note_reauth()
            self.state.reset()  # a new brokerage session: accounts, order priming, searches start over
            await self._run(self._session_op())

    async def _run(self, op: Generator[Any, Any, T]) -> T:
        """Drive one core operation (or one request's flow) to its result."""
        to_send: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = op.throw(error) if error is not None else op.send(to_send)
            except StopIteration as stop:
                result: T = stop.value
                return result
            to_send, error = None, None
            try:
                to_send = await self._execute(effect)
            except Exception as exc:  # thrown back into the operation, which may handle it
                error = exc

    async def _execute(self, effect: effects.Effect | rp.Step) -> Any:
        if isinstance(effect, effects.Request):
            return await self._send(effect)
        if isinstance(effect, rp.Send):
            return await self._attempt(effect.request)
        if isinstance(effect, effects.Sleep):
            await asyncio.sleep(effect.seconds)
            return None
        if isinstance(effect, rp.Penalize):
            return self._penalize(effect)
        if isinstance(effect, rp.Reauthenticate):
            return await self._reauth()
        if isinstance(effect, rp.Untrusted):  # never heals by retrying: name the certificate, how to pin it
            raise await arun_blocking(self._untrusted, effect) from effect.failure.cause
        if self.journal is None:
            return None
        return await arun_blocking(self._record, effect)

    async def aclose(self) -> None:
        async with self._lock:
            if self._http is not None:
                await self._http.aclose()
                self._http = None

    # unasync: async-only (the sync client's close() is aclose() above)
    async def close(self) -> None:
        await self.aclose()

    # unasync: end

    async def __aenter__(self) -> AsyncIBKRClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def connect(self) -> iserver.StartupResult:
        """Resolve the mode and run IBKR's start-up sequence (REFERENCE §1.7), ending with the
        first tickle (``StartupResult.tickle``)."""
        return await self._run(self._session_op(tickle_after=True))

    # ----------------------------------------------------------------------------- session

    async def auth_status(self) -> AuthStatus:
        return await self._run(iserver.auth_status())

    async def tickle(self) -> Tickle:
        return await self._run(iserver.tickle())

    async def init_session(self, compete: bool = True) -> AuthStatus:
        return await self._run(iserver.init_session(self.state, compete=compete))

    async def reauthenticate(self) -> None:
        await self._reauth()

    async def suppress_questions(self, ids: Sequence[str] | None = None) -> bool:
        ids = self.config.suppress_questions if ids is None else ids
        return await self._run(iserver.suppress_questions(ids))

    # ---------------------------------------------------------------------------- accounts

    async def accounts(self) -> IServerAccounts:
        return await self._run(iserver.accounts(self.state))

    async def portfolio_accounts(self) -> list[Account]:
        return await self._run(iserver.portfolio_accounts(self.state))

    async def switch_account(self, account_id: str) -> bool:
        return await self._run(iserver.switch_account(self.state, account_id))

    async def account_summary(self, account_id: str | None = None) -> dict[str, SummaryValue]:
        return await self._run(
            self._with_account(account_id, lambda a: iserver.account_summary(self.state, a))
        )

    async def brokerage_summary(self, account_id: str | None = None) -> BrokerageSummary:
        """``/iserver/account/{acct}/summary``: the brokerage side's account figures."""
        return await self._run(
            self._with_account(account_id, lambda a: iserver.brokerage_summary(self.state, a))
        )

    async def brokerage_summary_section(self, section: str, account_id: str | None = None) -> SummarySection:
        """``/iserver/account/{acct}/summary/{section}``: ``available_funds``, ``balances``,
        ``margins`` or ``market_value`` (segment -> label -> IBKR's text)."""
        return await self._run(
            self._with_account(
                account_id, lambda a: iserver.brokerage_summary_section(self.state, a, section)
            )
        )

    async def ledger(self, account_id: str | None = None) -> dict[str, LedgerEntry]:
        return await self._run(self._with_account(account_id, lambda a: iserver.ledger(self.state, a)))

    async def positions(self, account_id: str | None = None) -> list[Position]:
        return await self._run(self._with_account(account_id, lambda a: iserver.positions(self.state, a)))

    async def pnl(self) -> dict[str, PnLRow]:
        return await self._run(iserver.pnl(self.state))

    # ------------------------------------------------------------------------------ orders

    async def live_orders(
        self,
        account_id: str | None = None,
        filters: Sequence[str] | str | None = None,
        *,
        force: bool = False,
    ) -> list[Order]:
        wanted = iserver.normalize_filters(filters)  # refuse bad filters before any request
        return await self._run(
            self._with_account(account_id, lambda a: iserver.live_orders(self.state, a, wanted, force=force))
        )

    async def order_status(self, order_id: str | int) -> OrderStatus:
        return await self._run(iserver.order_status(self.state, order_id))

    async def trades(self, days: int | None = None, account_id: str | None = None) -> list[Trade]:
        return await self._run(self._with_account(account_id, lambda a: iserver.trades(self.state, a, days)))

    async def place_order(
        self,
        order: Mapping[str, Any],
        contract: ContractLike,
        *,
        confirm: Iterable[str] = (),
        hold_questions: bool = False,
    ) -> OrderResult:
        """Place ``order``. An IBKR question is answered "yes" only when all its message ids are in
        ``auto_confirm`` (config) or ``confirm`` (this order: ids the trader has confirmed). Any
        other question is declined (:class:`~axion_broker_ibkr.errors.QuestionRefusedError`, row
        ``declined``), unless ``hold_questions``: then it is held for the caller, neither answered
        nor declined (result ``status="pending"``, ``question`` set, row ``awaiting_answer``) until
        :meth:`answer_question`."""
        async with self._order_lock:
            return await self._run(self._place_op(order, contract, confirm, hold_questions))

    async def answer_question(self, client_order_id: str, yes: bool) -> OrderResult:
        """Answer the question held for order ``client_order_id`` (``hold_questions=True``): yes
        continues the same order (same cOID, same order-log row), no declines it (row ``declined``,
        question ids and text kept). After the reply window (``PendingQuestion.expires_at``) a yes
        places the same ticket again under a new cOID whose row links the first (which becomes
        ``declined``, "question expired"). For a modification, the modification is continued or
        sent again. The result may hold a further question (``status="pending"``)."""
        async with self._order_lock:
            return await self._run(self._answer_op(client_order_id, yes))

    async def order_group(self, order: Mapping[str, Any], contract: ContractLike) -> OrderGroup:
        """The :class:`~axion_broker_ibkr.orders.groups.OrderGroup` :meth:`place_order` would send for a
        group dict (bracket / OCO / OTO): every leg's CPAPI order, parent first; nothing is sent."""
        return await self._run(self._group_op(order, contract))

    async def order_payload(self, order: Mapping[str, Any], contract: ContractLike) -> dict[str, Any]:
        """The CPAPI payload :meth:`place_order` would send for ``order`` (prices on the contract's
        tick grid, the account it goes to); nothing is sent. Raises as place_order would."""
        return await self._run(self._payload_op(order, contract))

    async def whatif(self, order: Mapping[str, Any], contract: ContractLike) -> WhatIf:
        async with self._order_lock:
            return await self._run(self._whatif_op(order, contract))

    async def modify_order(
        self,
        order_id: str | int,
        order: Mapping[str, Any],
        contract: ContractLike | None = None,
        *,
        confirm: Iterable[str] = (),
        hold_questions: bool = False,
    ) -> OrderResult:
        """Modify live order ``order_id`` to the terms of ``order``. Without ``contract`` the
        order's own contract is used (its conid from ``order["conid"]`` or IBKR's order status,
        then IBKR's definition of that conid: strike, right, expiry, multiplier). Questions as for
        :meth:`place_order`; a held one is answered with :meth:`answer_question` (the order's cOID,
        or its order id when the order log does not know the order). For a leg of an order group
        whose quantity changes, the group stays consistent: a new entry quantity resizes its exits
        (take-profit / stop-loss) to match; one exit's quantity alone is refused
        (``OrderValidationError`` naming the leg and field; change every exit with
        :meth:`modify_group`)."""
        async with self._order_lock:
            return await self._run(self._modify_op(order_id, order, contract, confirm, hold_questions))

    async def modify_group(
        self,
        client_order_id: str,
        changes: Mapping[str, Mapping[str, Any]],
        contract: ContractLike | None = None,
        *,
        confirm: Iterable[str] = (),
    ) -> OrderResult:
        """Modify several legs of one order group at once: ``client_order_id`` is any leg's cOID
        (the group's, ``<group>.tp`` ...), ``changes`` maps a leg (its field: ``entry``,
        ``take_profit``, ``stop_loss``, ``then[0]``, ``oco[1]``; or its cOID) to its new full ticket,
        as :meth:`modify_order` takes. Quantities stay consistent (an OCA group keeps equal
        quantities): the exits follow a new entry quantity (those not named are resized), an exit's
        quantity changes only with every other open exit's, an OCO order's only with every other
        order's; else an ``OrderValidationError`` naming the leg and field, before anything is sent.
        One modification per leg, entry first, each recorded in the order log; the result is the
        first leg's, with ``legs`` listing every modified leg. Questions under the policy."""
        async with self._order_lock:
            return await self._run(self._modify_group_op(client_order_id, changes, contract, confirm))

    async def cancel_order(
        self, order_id: str | int, account_id: str | None = None, *, sec_type: str | None = None
    ) -> CancelAck:
        async with self._order_lock:
            return await self._run(self._cancel_op(order_id, account_id, sec_type))

    # --------------------------------------------------------------------------- market data

    async def snapshot(
        self,
        conids: Sequence[int | str],
        fields: Sequence[str] = DEFAULT_QUOTE_FIELDS,
        *,
        wait: float | None = None,
    ) -> list[Quote]:
        budget = self.config.snapshot_timeout if wait is None else wait
        return await self._run(marketdata.snapshot(self.state, conids, fields, wait=budget))

    async def history(self, conid: int | str, bar: str = "1d", period: str = "1m", **kwargs: Any) -> History:
        return await self._run(marketdata.history(self.state, conid, bar=bar, period=period, **kwargs))

    async def unsubscribe(self, conid: int | str) -> bool:
        return await self._run(marketdata.unsubscribe(conid))

    async def unsubscribe_all(self) -> bool:
        return await self._run(marketdata.unsubscribe_all())

    # ----------------------------------------------------------------------------- contracts

    async def search(
        self, symbol: str, sec_type: str = "STK", *, name: bool = False
    ) -> list[SecdefSearchResult]:
        return await self._run(secdef.search(self.state, symbol, sec_type, name=name))

    async def contract_info(self, conid: int) -> ContractInfo:
        return await self._run(secdef.contract_info(self.state, conid))

    async def order_contract(self, conid: int) -> IBKRContract:
        """The full contract of ``conid`` from IBKR's own definitions (for an order on it)."""
        return await self._run(secdef.order_contract(self.state, conid))

    async def contract_rules(self, conid: int, is_buy: bool = True, **kwargs: Any) -> ContractRules:
        return await self._run(secdef.contract_rules(self.state, conid, is_buy=is_buy, **kwargs))

    async def stocks(self, symbols: Sequence[str]) -> dict[str, list[StockInstrument]]:
        return await self._run(secdef.stocks(symbols))

    async def futures(
        self, symbols: Sequence[str], exchange: str | None = None
    ) -> dict[str, list[FutureContract]]:
        return await self._run(secdef.futures(symbols, exchange))

    async def currency_pairs(self, currency: str) -> list[CurrencyPair]:
        return await self._run(secdef.currency_pairs(currency))

    async def strikes(
        self, conid: int, month: str, sec_type: str = "OPT", exchange: str | None = None
    ) -> Strikes:
        return await self._run(secdef.strikes(self.state, conid, month, sec_type, exchange))

    async def secdef_info(
        self, conid: int | None = None, sec_type: str = "OPT", **kwargs: Any
    ) -> list[SecdefInfo]:
        return await self._run(secdef.secdef_info(self.state, conid=conid, sec_type=sec_type, **kwargs))

    async def bond_filters(self, issuer_id: str) -> list[BondFilter]:
        return await self._run(secdef.bond_filters(self.state, issuer_id))

    async def run(self, op: effects.Op[T]) -> T:
        """Drive any core operation (e.g. the resolver's) through this client."""
        return await self._run(op)
