"""One session lifecycle, used by the adapter, the page and the CLI.

1. **Open the order log** (:func:`open_order_log`): ``AXION_IBKR_DATABASE_URL``, else the host's
   ``database_url``, else SQLite in the user data directory (created and migrated on first use);
   ``database_url="memory"`` keeps it in memory (tests, throw-away sessions: said in the log); a
   journal handed in is used as it is. A database that cannot be opened is *refused*: the
   :class:`OrderLog` carries the :class:`~axion_broker_ibkr.errors.StoreUnavailableError` naming
   it, and its journal refuses every write, so no order or modification leaves on any path
   (the write-ahead record comes before the POST). The adapter raises it from ``connect()``; the
   page stays open to show data and says why nothing can be sent.
2. **Connect and run the start-up sequence** (``gateway.start``: resolves ``auto`` mode, opens the
   brokerage session, starts the tickle keep-alive). A gateway that is not logged in is reported by
   the status, not raised.
3. **Reconcile**: settle the rows a crash left pending (:mod:`axion_broker_ibkr.store.reconcile`;
   never re-sends; a failure leaves them pending and the session usable). With ``record=True``
   the connection, its status changes and the account sync go to ``ibkr_connections``.
4. **Follow the stream** (:func:`follow_order_stream`): the stream's order states and executions
   keep the order log current (:func:`start_order_stream` starts one for an async client).

Steps 1-3 are one procedure, :func:`lifecycle_steps` (plain steps, :mod:`axion_broker_ibkr.drivers.steps`),
with a sync face :func:`start_session` and an async face :func:`astart_session`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import define, field

from . import models as m
from .config import IBKRConfig
from .drivers.steps import Steps, arun_steps, blocking, call, run_steps
from .errors import IBKRError, StoreUnavailableError
from .masking import mask_account, mask_text
from .ops.journal import ContractCache, JournalEntry, OrderJournal
from .store.memory import MemoryJournal

if TYPE_CHECKING:
    from .client import AsyncIBKRClient, IBKRClient
    from .drivers.pacing import Pacer
    from .gateway import AsyncIBKRGateway, IBKRGateway
    from .ops.journal import Modification, ModificationRef
    from .resolver import AsyncContractResolver, ContractResolver
    from .store import Store
    from .store.connections import ConnectionRecorder
    from .store.reconcile import Decision
    from .streaming import IBKRStreaming

log = logging.getLogger(__name__)

#: ``database_url`` value that keeps the order log in memory (tests, throw-away sessions only).
MEMORY_DATABASE = "memory"


# --------------------------------------------------------------------------------------------
# 1. The order log


def open_order_store(database_url: str | None) -> Store:
    """Open the plugin's database for the order log (``AXION_IBKR_DATABASE_URL``, else
    ``database_url``, else SQLite in the user data directory; created and migrated on first use).
    Raises :class:`StoreUnavailableError` naming the database when it cannot. Blocking."""
    from .store import display_url, open_store, resolve_database_url

    where = "the plugin's database"
    try:
        url = resolve_database_url({"database_url": database_url})
        where = display_url(url)
        store = open_store(url)
    except Exception as exc:
        raise StoreUnavailableError(
            f"cannot open the IBKR order log at {where}: {type(exc).__name__}: {mask_text(str(exc))}; "
            "no order is sent without it (fix the database, or set AXION_IBKR_DATABASE_URL / "
            "database_url to a writable one)"
        ) from exc
    log.info("IBKR order log: %s", where)
    return store


class _RefusedLog:
    """The journal of an order log that could not be opened: every write raises why, so the client
    never sends (``record_pending`` comes before the POST); nothing is listed."""

    def __init__(self, error: StoreUnavailableError) -> None:
        self.error = error

    def record_pending(self, entry: JournalEntry) -> None:
        raise self.error

    def record_result(self, client_order_id: str, **changes: Any) -> None:
        raise self.error

    def record_modification(self, modification: Modification) -> ModificationRef:
        raise self.error

    def settle_modification(self, ref: ModificationRef, **changes: Any) -> None:
        raise self.error

    def get(self, client_order_id: str) -> JournalEntry | None:
        return None

    def unsettled(self) -> list[JournalEntry]:
        return []


@define(frozen=True, kw_only=True, eq=False)
class OrderLog:
    """Where a session logs each order before it leaves: the plugin's database (``store``), memory
    (``database_url="memory"``, or an injected journal), or nowhere: then ``failure`` says why the
    database could not be opened and ``journal`` refuses every order."""

    journal: OrderJournal
    cache: ContractCache | None = None
    store: Store | None = None
    failure: StoreUnavailableError | None = None

    @property
    def error(self) -> str | None:
        """Why no order can be sent (``None`` when orders can be)."""
        return None if self.failure is None else str(self.failure)

    @property
    def can_send(self) -> bool:
        return self.failure is None

    @property
    def in_memory(self) -> bool:
        return self.store is None and self.failure is None

    def entries(self, limit: int) -> list[JournalEntry]:
        """The newest logged orders, from the database or the in-memory log (none without a log)."""
        if self.store is not None:
            return self.store.journal.entries(limit=limit)
        if isinstance(self.journal, MemoryJournal):
            return self.journal.entries(limit=limit)
        return []

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def open_order_log(
    config: IBKRConfig,
    *,
    journal: OrderJournal | None = None,
    cache: ContractCache | None = None,
    who: str = "IBKR session",
) -> OrderLog:
    """The session's :class:`OrderLog`: ``journal`` (and ``cache``) when given; memory when
    ``database_url="memory"`` asks for it; else the database, or a refusing log naming why it could
    not be opened (never a silent in-memory log). Blocking."""
    if journal is not None:
        return OrderLog(journal=journal, cache=cache)
    if config.database_url == MEMORY_DATABASE:
        log.warning("%s with database_url=%r: the order log is kept in memory only", who, MEMORY_DATABASE)
        return OrderLog(journal=MemoryJournal(), cache=cache)
    try:
        store = open_order_store(config.database_url)
    except StoreUnavailableError as exc:
        log.error("%s", exc)
        return OrderLog(journal=_RefusedLog(exc), cache=cache, failure=exc)
    return OrderLog(journal=store.journal, cache=store.cache, store=store)


def attach(
    order_log: OrderLog,
    client: IBKRClient | AsyncIBKRClient,
    resolver: ContractResolver | AsyncContractResolver | None = None,
) -> None:
    """Hand the log's journal and contract cache to the client (and the resolver)."""
    client.journal = order_log.journal
    if order_log.cache is not None:
        client.cache = order_log.cache
        if resolver is not None:
            resolver.cache = order_log.cache


# --------------------------------------------------------------------------------------------
# 2-3. Connect, start-up sequence, reconcile


@define(kw_only=True, eq=False)
class Started:
    """What :func:`lifecycle_steps` did: the gateway's status, the order log, the rows it settled,
    and (``record=True``) the connection's recorder and the function that stops recording status
    changes."""

    status: m.GatewayStatus
    order_log: OrderLog | None
    decisions: list[Decision] = field(factory=list)
    recorder: ConnectionRecorder | None = None
    unlisten: Callable[[], None] | None = None


def lifecycle_steps(
    config: IBKRConfig,
    client: IBKRClient | AsyncIBKRClient,
    gateway: IBKRGateway | AsyncIBKRGateway,
    *,
    order_log: OrderLog | None = None,
    log_orders: bool = True,
    resolver: ContractResolver | AsyncContractResolver | None = None,
    keepalive: bool = True,
    require_log: bool = False,
    record: bool = False,
) -> Steps[Started]:
    """Open the order log (unless given, or ``log_orders=False``), connect and run the start-up
    sequence, reconcile.

    ``require_log``: raise the log's :class:`StoreUnavailableError` before connecting when the
    database cannot be opened (the adapter); otherwise the session opens with a refusing log (the
    page). ``record``: keep ``ibkr_connections`` (connection, status changes, account sync)."""
    if order_log is None and log_orders:
        order_log = yield blocking(open_order_log, config)
    if order_log is not None:
        if require_log and order_log.failure is not None:
            raise order_log.failure
        attach(order_log, client, resolver)
    status: m.GatewayStatus = yield call(gateway.start, keepalive=keepalive)
    if status.healthy:
        log.info("IBKR connected [%s] account %s", status.mode, mask_account(status.selected_account))
    else:
        log.warning("IBKR gateway not healthy [%s]: %s", status.mode, mask_text(unhealthy_reason(status)))
    started = Started(status=status, order_log=order_log)
    store = None if order_log is None else order_log.store
    if store is None:
        return started
    if record:
        started.recorder = yield from _record_connection(store, client, status)
    if not status.healthy:
        return started
    if started.recorder is not None:
        from .store.connections import record_gateway_status

        recorder = started.recorder
        started.unlisten = gateway.add_listener(lambda s: record_gateway_status(recorder, s))
    started.decisions = yield from settle_steps(store, client)
    if started.recorder is not None:
        yield from _sync_account(started.recorder, client)
    return started


def unhealthy_reason(status: m.GatewayStatus) -> str:
    return status.message or status.fail or "gateway not healthy"


def settle_steps(store: Store, client: IBKRClient | AsyncIBKRClient) -> Steps[list[Decision]]:
    """Settle the rows a crash left pending; never re-sends. A failure leaves them pending."""
    from .store.reconcile import reconcile_steps

    try:
        decisions = yield from reconcile_steps(store.journal, client)
    except (IBKRError, OSError) as exc:
        log.warning("order-log reconciliation failed (rows stay pending): %s", mask_text(str(exc)))
        return []
    if decisions:
        log.info("reconciled %d order-log row(s) left pending", len(decisions))
    return decisions


def _record_connection(
    store: Store, client: IBKRClient | AsyncIBKRClient, status: m.GatewayStatus
) -> Steps[ConnectionRecorder]:
    from .store.connections import gateway_status_word, record_gateway_status

    host, port = client.peer
    recorder = store.connections(
        mode=client.mode, gateway_host=host, gateway_port=port, account_id=client.account_id
    )
    try:
        if status.healthy:
            yield blocking(lambda: recorder.connected(status=gateway_status_word(status)))
        else:
            yield blocking(record_gateway_status, recorder, status)
    except Exception:  # bookkeeping: never stands between the trader and the gateway
        log.exception("could not record the IBKR connection")
    return recorder


def _sync_account(recorder: ConnectionRecorder, client: IBKRClient | AsyncIBKRClient) -> Steps[None]:
    """Net liquidation, buying power and position count into ``ibkr_connections``."""
    from .store.connections import account_figures

    try:
        if client.account_id is None:
            yield call(client.accounts)
        account = client.account_id
        if account is None:
            raise IBKRError("the gateway reports no account")
        summary = yield call(client.account_summary, account)
        positions = yield call(client.positions, account)
        figures = account_figures(summary, positions)
        yield blocking(lambda: recorder.account_synced(account_id=account, **figures))
    except Exception as exc:
        log.warning("account sync not recorded: %s", mask_text(str(exc)))


def start_session(config: IBKRConfig, client: IBKRClient, gateway: IBKRGateway, **options: Any) -> Started:
    """:func:`lifecycle_steps` with a synchronous client (the page, the CLI)."""
    return run_steps(lifecycle_steps(config, client, gateway, **options))


async def astart_session(
    config: IBKRConfig, client: AsyncIBKRClient, gateway: AsyncIBKRGateway, **options: Any
) -> Started:
    """:func:`lifecycle_steps` with an asyncio client (the adapter; blocking work in a thread)."""
    return await arun_steps(lifecycle_steps(config, client, gateway, **options))


@define(kw_only=True, eq=False)
class SyncSession:
    """The sync face's session: a client, its gateway monitor and resolver, the order log (``None``
    for a read-only one-shot session) and what the start-up did (``None`` when not started)."""

    config: IBKRConfig
    client: IBKRClient
    gateway: IBKRGateway
    resolver: ContractResolver
    order_log: OrderLog | None = None
    started: Started | None = None

    def close(self) -> None:
        """Stop the keep-alive, close the client, then the order log."""
        try:
            self.gateway.stop()
            self.client.close()
        finally:
            if self.order_log is not None:
                self.order_log.close()

    def __enter__(self) -> SyncSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sync_session(
    config: IBKRConfig,
    *,
    pacer: Pacer | None = None,
    order_log: OrderLog | None = None,
    log_orders: bool = True,
    start: bool = True,
    keepalive: bool = True,
) -> SyncSession:
    """Build the synchronous client and run the lifecycle (the page; the CLI).

    ``log_orders=False`` and ``start=False`` give a read-only one-shot session (the CLI's
    ``status``, ``resolve``, ``quote``): no order log is opened (no database is created for a
    quote) and no start-up sequence runs (it would spend IBKR's paced ``/portfolio/accounts``
    budget); such a client has no journal, so it is not for orders."""
    from .client import IBKRClient
    from .gateway import IBKRGateway
    from .resolver import ContractResolver

    if order_log is None and log_orders:
        order_log = open_order_log(config, who="IBKR session")
    client = IBKRClient(
        config,
        pacer=pacer,
        journal=None if order_log is None else order_log.journal,
        cache=None if order_log is None else order_log.cache,
    )
    gateway = IBKRGateway(client)
    session = SyncSession(
        config=config,
        client=client,
        gateway=gateway,
        resolver=ContractResolver(client, cache=client.cache),
        order_log=order_log,
    )
    if not start:
        return session
    try:
        session.started = start_session(
            config,
            client,
            gateway,
            order_log=order_log,
            log_orders=log_orders,
            resolver=session.resolver,
            keepalive=keepalive,
        )
    except BaseException:
        session.close()
        raise
    return session


# --------------------------------------------------------------------------------------------
# 4. Follow the stream


def follow_order_stream(order_log: OrderLog, stream: Any) -> Callable[[], None]:
    """Keep the database's order log current from ``stream`` (``sor`` order states, ``str``
    executions; an ``IBKRStreaming`` or ``SyncStreaming``). Returns a function that stops
    following; a no-op without the database (memory, injected or refused logs)."""
    if order_log.store is None:
        return lambda: None
    from .store.follow import follow_stream

    return follow_stream(order_log.store.journal, stream)


async def start_order_stream(
    client: AsyncIBKRClient, order_log: OrderLog, *, connect_within: float = 10.0
) -> tuple[IBKRStreaming, Callable[[], None]] | None:
    """An order stream on ``client`` (``sor``; the REST keep-alive stays the gateway monitor's)
    followed by the order log, once it is connected; ``None`` when no stream can be had (no
    database to keep current, or the WebSocket does not open within ``connect_within`` seconds)."""
    if order_log.store is None:
        return None
    from .streaming import IBKRStreaming

    stream = IBKRStreaming(client, tickle_interval=None)
    unfollow = follow_order_stream(order_log, stream)
    try:
        await stream.start()
        await stream.subscribe_orders()
        await stream.wait_connected(connect_within)
    except Exception as exc:  # the order log is settled by reconciliation instead, as before
        unfollow()
        await stream.stop()
        log.warning("no order stream (the order log is settled at the next reconciliation): %s",
                    mask_text(f"{type(exc).__name__}: {exc}"))  # fmt: skip
        return None
    return stream, unfollow
