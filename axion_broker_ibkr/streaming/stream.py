"""``IBKRStreaming``: one WebSocket to the gateway for quotes, trades, depth, orders and P&L.

The connection loop: check auth through REST (re-init the brokerage session when it is missing, or
held by a competing session and the policy is ``take_over``; the default is ``wait``), fetch a
fresh ``/tickle`` session, open the socket (``api`` cookie and a ``{"session": ...}`` first frame),
rebuild order state from ``/iserver/account/orders``, back-fill
trades, re-send every active subscription, then read frames until the socket closes, goes silent,
or reports an auth loss (``sts``). Then back off (capped, jittered) and start again.

Beside it runs the per-topic watchdog (:mod:`.watchdog`): a quote, order or P&L subscription that
has been quiet past its expected interval is re-sent; while the socket is down, subscribed topics
are polled over REST (snapshots, live orders, P&L) at the rate IBKR allows each endpoint (the
client's pacer has the limits); and while orders are working and ``sor`` is quiet, live orders are
polled too, because real gateways have been seen to deliver no ``sor`` at all (a build 10.46
capture) or to stop ``sor`` after a filtered ``/iserver/account/orders`` call (ibind #129). The
stream itself never sends a filtered live-orders call (the client filters locally), and when a poll
finds a change ``sor`` did not deliver, it clears the gateway's filter state with one ``force=true``
call (at most once a minute, backing off while it does not help) and re-sends ``sor``.
Order-related ``ntf`` frames trigger a live-orders refresh at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import websockets
from websockets.asyncio.client import ClientConnection, connect

from .. import models as m
from ..config import takes_over_competing
from ..errors import CompetingSessionError, NotAuthenticatedError
from ..masking import mask_account, mask_text, mask_token
from ..orders.status import status_info
from ..wire import convert
from .consumers import Callback, Dispatcher, EventStream
from .decode import FrameDecoder
from .events import PnLEvent, QuoteEvent, StreamChannel, StreamEvent, SystemEvent, TradeEvent
from .liveness import Backoff, Clock, Liveness
from .protocol import StreamClient
from .subscriptions import Registry, Subscription, SubscriptionError, quote_subscription
from .watchdog import (
    WATCHED,
    PollingClient,
    TopicWatch,
    is_order_notice,
    poll_interval,
    quiet_for,
    topic_state,
)

log = logging.getLogger(__name__)

#: seconds a connection must hold before the reconnect back-off starts again from its base.
STABLE_AFTER = 10.0
#: a ``force=true`` live-orders call (it resets the gateway's order cache) at most this often; the
#: interval doubles up to ``FORCE_MAX`` while forcing does not bring ``sor`` back (a gateway whose
#: ``sor`` is silent anyway), and starts over when a ``sor`` frame arrives.
FORCE_EVERY = 60.0
FORCE_MAX = 900.0
#: the gateway is local: never route it through an HTTP(S)_PROXY (``proxy`` exists from websockets 15).
_NO_PROXY: dict[str, Any] = {"proxy": None} if "proxy" in inspect.signature(connect).parameters else {}


def _compete_policy(client: object) -> bool:
    """Take over a competing session only if the client's config says so (``take_over``); without
    a config the one default applies (``wait``, :func:`~axion_broker_ibkr.config.takes_over_competing`)."""
    return takes_over_competing(client)


class IBKRStreaming:
    """One WebSocket for every channel, merged state, liveness, reconnect and resubscribe.

    Times are seconds. ``clock`` drives liveness and refresh bookkeeping (tests inject one);
    ``tick`` is how often the housekeeping loop looks at it. ``compete``: whether a competing
    session is taken over (``ssodh/init`` with ``compete: true`` logs the other platform out);
    by default the client's ``competing_policy`` decides (``take_over`` or ``wait``).
    ``tickle_interval=None`` leaves the REST keep-alive to someone else (e.g. ``IBKRGateway``).
    ``orders_resync``: while ORDERS is subscribed, order state is re-read from REST this often
    (``None``: only at (re)connect), so a ``sor`` feed that went quiet cannot hide a change for long.

    Watchdog (see :meth:`health`): ``quote_silence``, ``orders_silence`` and ``pnl_silence`` are
    the expected intervals after which a quiet subscription is re-sent (``orders_silence`` counts
    only while an order is working; ``sor`` is quiet by nature otherwise). ``poll_while_down``:
    poll subscribed topics over REST once the socket has been down ``poll_after`` seconds (a quick
    reconnect costs no REST calls, and the client's own session healing is not raced);
    ``quote_poll_interval`` is the slowest quotes are polled then (orders and P&L follow the
    pacer's per-endpoint interval). An order-related ``ntf`` re-reads live orders after
    ``ntf_grace`` seconds unless ``sor`` spoke around the notice (then ``sor`` has the change).
    """

    def __init__(
        self,
        client: StreamClient,
        *,
        queue_size: int = 10_000,
        tic_interval: float = 30.0,
        tickle_interval: float | None = 60.0,
        heartbeat_timeout: float = 35.0,
        smd_refresh: float = 600.0,
        quote_silence: float = 60.0,
        orders_resync: float | None = 120.0,
        orders_silence: float = 15.0,
        pnl_silence: float = 30.0,
        poll_while_down: bool = True,
        poll_after: float = 5.0,
        ntf_grace: float = 1.0,
        quote_poll_interval: float = 1.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        compete: bool | None = None,
        open_timeout: float = 10.0,
        subscribe_wait: float = 2.0,
        tick: float = 1.0,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size: must be at least 1, got {queue_size}")
        if not 0 < tic_interval <= 60:
            raise ValueError(f"tic_interval: IBKR needs a tic at least once a minute, got {tic_interval}")
        if smd_refresh >= 900:
            raise ValueError(f"smd_refresh: must be below IBKR's 15-minute smd expiry, got {smd_refresh}")
        for name, value in (
            ("quote_silence", quote_silence),
            ("orders_silence", orders_silence),
            ("pnl_silence", pnl_silence),
            ("quote_poll_interval", quote_poll_interval),
        ):
            if not value > 0:
                raise ValueError(f"{name}: must be a positive number of seconds, got {value}")
        if poll_after < 0:
            raise ValueError(f"poll_after: must not be negative, got {poll_after}")
        self.client = client
        self.queue_size = queue_size
        self.compete = _compete_policy(client) if compete is None else compete
        self.open_timeout = open_timeout
        self.subscribe_wait = subscribe_wait
        self.smd_refresh = smd_refresh
        self.quote_silence = quote_silence
        self.orders_resync = orders_resync
        self.orders_silence = orders_silence
        self.pnl_silence = pnl_silence
        self.poll_while_down = poll_while_down
        self.poll_after = poll_after
        self.ntf_grace = ntf_grace
        self.quote_poll_interval = quote_poll_interval
        self._last_resync = 0.0
        self.tick = tick
        self.clock = clock
        self.decoder = FrameDecoder()
        self.registry = Registry()
        self.liveness = Liveness(
            tic_interval=tic_interval,
            tickle_interval=tickle_interval or 0.0,
            heartbeat_timeout=heartbeat_timeout,
            clock=clock,
        )
        self._rest_keepalive = tickle_interval is not None
        self.backoff = Backoff(base=backoff_base, cap=backoff_cap, rng=rng or random.Random())
        self.dispatcher = Dispatcher(queue_size)
        self._quote_targets: dict[int, str] = {}
        self._ws: ClientConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.watch: dict[StreamChannel, TopicWatch] = {
            StreamChannel.QUOTE: TopicWatch(channel=StreamChannel.QUOTE, expected=quote_silence),
            StreamChannel.ORDERS: TopicWatch(channel=StreamChannel.ORDERS, expected=orders_silence),
            StreamChannel.PNL: TopicWatch(channel=StreamChannel.PNL, expected=pnl_silence),
        }
        self._down_since: float | None = clock()
        self._orders_live_since: float | None = None
        self._orders_refreshing = False
        self._orders_again = False
        self._force_next = False
        self._last_force: float | None = None
        self._force_every = FORCE_EVERY
        self._connected = asyncio.Event()
        self._session_ready = asyncio.Event()
        self._kick: asyncio.Future[str] | None = None
        self._closing = False
        self.state = "idle"
        self.account: str | None = None
        self.username: str | None = None
        self.counters: Counter[str] = Counter()
        self.last_disconnect_reason: str | None = None
        self.last_error: str | None = None
        self.connected_since: float | None = None

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the connection loop in the background (returns at once; see :meth:`wait_connected`)."""
        if self._runner is None:
            self._closing = False
            self._runner = asyncio.create_task(self._run(), name="ibkr-stream")
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watchdog(), name="ibkr-stream-watchdog")

    async def stop(self) -> None:
        """Close the socket, stop every task, end every ``events()`` iterator."""
        self._closing = True
        self._kick_now("stopped")
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        await self._close_ws()
        self._set_state("closed")
        self.dispatcher.close()

    async def __aenter__(self) -> IBKRStreaming:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_connected(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the socket is open and subscriptions are (re)sent; ``TimeoutError`` otherwise."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def reconnect(self, reason: str = "requested") -> None:
        """Drop the current socket and go through the reconnect path (auth check, resubscribe)."""
        self._kick_now(reason)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -------------------------------------------------------------------------- subscriptions

    async def subscribe_quotes(
        self, conids: Iterable[int | str] | int | str, fields: Sequence[str | int] | None = None
    ) -> None:
        """``smd`` for each conid with the chosen field ids (default: the client's quote fields)."""
        items = [conids] if isinstance(conids, int | str) else list(conids)
        if not items:
            raise SubscriptionError("conids: at least one conid is needed")
        subs = [quote_subscription(c, fields) for c in items]
        for sub in subs:
            old = self.registry.get(StreamChannel.QUOTE, sub.target)
            if old is not None and old.sent_at is not None and set(sub.fields) <= set(old.fields):
                continue  # already streaming these fields (pages re-subscribe on every render)
            sub = self.registry.add(sub)
            self._quote_targets[int(sub.target.partition("@")[0])] = sub.target
            await self._send_sub(sub)

    async def unsubscribe_quotes(self, conids: Iterable[int | str] | int | str) -> None:
        items = [conids] if isinstance(conids, int | str) else list(conids)
        for conid in items:
            await self.unsubscribe(StreamChannel.QUOTE, str(conid))

    async def subscribe_orders(self) -> None:
        """``sor``, after rebuilding order state from ``/iserver/account/orders``."""
        sub = self.registry.add(Subscription(channel=StreamChannel.ORDERS))
        if self._ws is not None:
            await self._rebuild_orders()
        await self._send_sub(sub)

    async def subscribe_trades(self, days: int = 1) -> None:
        """``str`` with a back-fill of ``days`` (1..7) of executions."""
        if not 1 <= days <= 7:
            raise SubscriptionError(f"days: IBKR keeps 1 to 7 days of trades, got {days}")
        sub = self.registry.add(Subscription(channel=StreamChannel.TRADES, days=days))
        if self._ws is not None:
            await self._backfill_trades(days)
        await self._send_sub(sub)

    async def subscribe_depth(
        self, conid: int | str, account: str | None = None, exchange: str | None = None
    ) -> None:
        """``sbd`` (BookTrader ladder; needs an L2 subscription). ``account`` defaults to the selected one."""
        acct = account or self.account
        if not acct:
            raise SubscriptionError("account: not known yet; pass account= or wait for the 'act' frame")
        target = str(conid)
        if not target.isdigit():
            raise SubscriptionError(f"conid: expected a positive integer, got {conid!r}")
        sub = Subscription(channel=StreamChannel.DEPTH, target=target, account=acct, exchange=exchange)
        await self._send_sub(self.registry.add(sub))

    async def subscribe_pnl(self) -> None:
        await self._send_sub(self.registry.add(Subscription(channel=StreamChannel.PNL)))

    async def unsubscribe(self, channel: StreamChannel, target: str = "") -> bool:
        sub = self.registry.remove(channel, target)
        if sub is None:
            return False
        if channel is StreamChannel.QUOTE:
            self._quote_targets.pop(int(target.partition("@")[0]), None)
        await self._send(sub.unsubscribe_frame())
        return True

    # ------------------------------------------------------------------------------ consumers

    def events(self, *channels: StreamChannel, maxsize: int | None = None) -> EventStream:
        """A consumer of its own (registered at once, so nothing is missed before iteration starts)."""
        return self.dispatcher.events_stream(channels, maxsize)

    def on(self, channel: StreamChannel, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for each event of ``channel`` (sync or async); returns a remover."""
        return self.dispatcher.on(channel, callback)

    # ---------------------------------------------------------------------------------- state

    def quote(self, conid: int) -> m.Quote | None:
        return self.decoder.quotes.get(conid)

    def order(self, order_id: int) -> m.Order | None:
        return self.decoder.orders.get(order_id)

    @property
    def quotes(self) -> dict[int, m.Quote]:
        return self.decoder.quotes.snapshot()

    @property
    def orders(self) -> dict[int, m.Order]:
        return self.decoder.orders.snapshot()

    @property
    def pnl(self) -> dict[str, m.PnLRow]:
        return self.decoder.pnl.snapshot()

    @property
    def trades(self) -> list[m.Trade]:
        return self.decoder.trades.all()

    def stats(self) -> dict[str, Any]:
        """Everything the Gateway tab shows: state, reconnects, subscriptions, drops, counters."""
        now = self.clock()
        return {
            "state": self.state,
            "connected": self.connected,
            "account": mask_account(self.account),
            "uptime_s": None if self.connected_since is None else round(now - self.connected_since, 3),
            "heartbeat_silence_s": round(self.liveness.silence(), 3),
            "last_disconnect_reason": self.last_disconnect_reason,
            "last_error": self.last_error or self.decoder.last_error,
            "subscriptions": [
                {
                    "channel": s.channel.value,
                    "target": s.target,
                    "sends": s.sends,
                    "active": s.sent_at is not None,
                }
                for s in self.registry.active()
            ],
            **self.dispatcher.stats(),
            "unknown_topics": dict(self.decoder.unknown_topics),
            "frames": dict(self.decoder.counts),
            "quotes_tracked": len(self.decoder.quotes),
            "orders_tracked": len(self.decoder.orders),
            "trades_seen": len(self.decoder.trades),
            "health": self.health(),
            **dict(self.counters),
        }

    def health(self) -> dict[str, dict[str, Any]]:
        """Per subscribed channel (``quote``, ``orders``, ``pnl``): ``state`` (``live``, ``silent``,
        ``polling``, ``down``), ``last_message_age`` (seconds since the last update by socket or REST
        poll, ``None`` before the first) and ``resubscribes`` (re-sends by the watchdog)."""
        now = self.clock()
        connected = self.connected
        out: dict[str, dict[str, Any]] = {}
        for channel in WATCHED:
            if not self.registry.active(channel):
                continue
            watch = self.watch[channel]
            silent = connected and self._silent(channel, now)
            out[channel.value] = {
                "state": topic_state(connected, silent, watch, self._down_since),
                "last_message_age": watch.age(now),
                "resubscribes": watch.resubscribes,
            }
        return out

    # ------------------------------------------------------------------------- internal: run

    async def _run(self) -> None:
        while not self._closing:
            reason = "error"
            try:
                ws = await self._open()
                reason = await self._serve(ws)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                reason = type(exc).__name__
                self.last_error = mask_text(str(exc))[:300]
                self.counters["connect_failures"] += 1
                if isinstance(exc, NotAuthenticatedError):
                    self._set_state("waiting_for_login")  # 401: a human must log in to the gateway
                log.warning("stream connection failed: %s", self.last_error)
            finally:
                if self._connected.is_set() or self._down_since is None:
                    self._down_since = self.clock()
                    for watch in self.watch.values():
                        watch.next_poll = 0.0  # poll at once: the socket just went away
                self._connected.clear()
                self.connected_since = None
                await self._close_ws()
            if self._closing:
                break
            self.last_disconnect_reason = reason
            self.counters["reconnects"] += 1
            if self.state not in {"waiting_for_login", "waiting_for_session"}:
                self._set_state("reconnecting")
            delay = self.backoff.next_delay()
            log.info("stream reconnecting in %.2fs (reason: %s)", delay, reason)
            await asyncio.sleep(delay)

    async def _open(self) -> ClientConnection:
        self._set_state("connecting")
        status = await self.client.auth_status()
        if status.competing and not self.compete:
            self._set_state("waiting_for_session")
            raise CompetingSessionError(
                "another platform holds the brokerage session; waiting (competing_policy is 'wait')"
            )
        if not status.authenticated or status.competing:
            self.counters["reinits"] += 1
            log.info("brokerage session not usable (authenticated=%s competing=%s): re-init",
                     status.authenticated, status.competing)  # fmt: skip
            status = await self.client.init_session(compete=self.compete)
            if not status.authenticated:
                raise ConnectionError(
                    f"brokerage session not authenticated after init: {status.message or ''}"
                )
        tickle = await self.client.tickle()
        self.liveness.tickled()
        session = tickle.session
        if not session:
            raise ConnectionError("tickle returned no session token")
        url = self.client.ws_url
        headers = {"Cookie": "api=" + json.dumps({"session": session}, separators=(",", ":"))}
        log.info("opening %s (session %s)", mask_text(url), mask_token(session))  # oauth: ?oauth_token=***
        self._session_ready.clear()
        ws = await connect(
            url,
            ssl=self.client.ssl_context if url.startswith("wss:") else None,
            additional_headers=headers,
            open_timeout=self.open_timeout,
            close_timeout=2.0,
            ping_interval=45.0,
            ping_timeout=30.0,
            max_size=None,
            compression=None,
            **_NO_PROXY,
        )
        self._ws = ws
        await ws.send(json.dumps({"session": session}))
        self.liveness.connected()
        self.registry.reset_sent()
        self.counters["connects"] += 1
        return ws

    async def _serve(self, ws: ClientConnection) -> str:
        loop = asyncio.get_running_loop()
        self._kick = loop.create_future()
        reader = asyncio.create_task(self._read(ws), name="ibkr-stream-read")
        ticker = asyncio.create_task(self._housekeep(ws), name="ibkr-stream-tick")
        waiters: set[asyncio.Future[Any]] = {reader, ticker, self._kick}
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._session_ready.wait(), self.subscribe_wait)
            await self._resubscribe()
            self._connected.set()
            self.connected_since = self.clock()
            self._down_since = None
            self._set_state("connected")
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            first = done.pop()
            return str(first.result()) if not first.cancelled() else "cancelled"
        finally:
            for task in (reader, ticker):
                task.cancel()
            await asyncio.gather(reader, ticker, return_exceptions=True)
            self._kick = None

    def _kick_now(self, reason: str) -> None:
        if self._kick is not None and not self._kick.done():
            self._kick.set_result(reason)

    async def _read(self, ws: ClientConnection) -> str:
        try:
            async for frame in ws:
                self.feed(frame)
        except websockets.ConnectionClosed as exc:
            return f"closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        return "closed"

    def feed(self, frame: str | bytes) -> int:
        """Process one raw frame as if the socket had delivered it: decode, merge, dispatch.

        The reader calls this for every frame; replay tools and ``bench/stream.py`` call it with
        recorded frames. Returns how many events the frame produced.
        """
        events = self.decoder.feed(frame)
        topic = self.decoder.last_topic
        if topic is not None and topic[:3] in {"sor", "spl"}:
            # a frame of the topic is a sign of life even when it changed nothing (a sor replay)
            channel = StreamChannel.ORDERS if topic[:3] == "sor" else StreamChannel.PNL
            if channel is StreamChannel.ORDERS:
                self._force_every = FORCE_EVERY  # sor speaks: forcing helped (or was not needed)
            now = self.clock()
            self.registry.mark_data(channel, "", now)
            self.watch[channel].heard(now)
        for event in events:
            self._on_event(event)
        self.liveness.frame()
        return len(events)

    def _on_event(self, event: StreamEvent) -> None:
        if isinstance(event, QuoteEvent):
            target = self._quote_targets.get(event.conid)
            if target is not None:
                now = self.clock()
                self.registry.mark_data(StreamChannel.QUOTE, target, now)
                self.watch[StreamChannel.QUOTE].heard(now)
        elif isinstance(event, SystemEvent):
            self._on_system(event)
        self._dispatch(event)

    def _on_system(self, event: SystemEvent) -> None:
        if event.kind == "system":
            self._session_ready.set()
            if event.heartbeat is not None:
                self.liveness.frame(heartbeat=True)
            elif event.username:
                self.username = event.username
        elif event.kind == "sts":
            self._session_ready.set()
            auth = event.auth
            if auth is not None and (auth.authenticated is False or auth.competing is True):
                reason = "competing session" if auth.competing else "auth lost"
                log.warning("gateway reports %s over the websocket", reason)
                self._kick_now(reason)
        elif event.kind == "ntf":
            # notifications reach consumers as SYSTEM events; an order-related one means an order
            # changed, whatever sor says (a build 10.46 gateway sent only ntf for orders)
            if is_order_notice(event.data) and self.registry.get(StreamChannel.ORDERS) is not None:
                self.counters["order_notices"] += 1
                self._request_orders_refresh()
        elif event.kind == "act" and isinstance(event.data, dict):
            selected = event.data.get("selectedAccount")
            if isinstance(selected, str) and selected:
                self.account = selected

    def _dispatch(self, event: StreamEvent) -> None:
        self.dispatcher.dispatch(event)

    async def _housekeep(self, ws: ClientConnection) -> str:
        while True:
            await asyncio.sleep(self.tick)
            if self.liveness.dead():
                self.counters["dead_sockets"] += 1
                log.warning("no heartbeat for %.1fs: socket declared dead", self.liveness.silence())
                return "heartbeat lost"
            if self.liveness.tic_due():
                self.liveness.tic_sent()
                try:
                    await ws.send("tic")
                except websockets.ConnectionClosed:
                    return "closed while sending tic"
                self.counters["tics"] += 1
            since = self.connected_since
            if self.backoff.attempts and since is not None and self.clock() - since >= STABLE_AFTER:
                self.backoff.reset()  # only a connection that held counts as recovered
            if self._rest_keepalive and self.liveness.tickle_due():
                self.liveness.tickled()
                self.dispatcher.spawn(self._tickle())
            if self.connected:
                now = self.clock()
                for sub in self.registry.due_quote_refresh(now, self.smd_refresh, self.quote_silence):
                    self.counters["quote_refreshes"] += 1
                    if quiet_for(now, sub.sent_at, sub.last_data) >= self.quote_silence:
                        self.watch[StreamChannel.QUOTE].resubscribes += 1  # silent, not just due
                    await self._send_sub(sub)
                for channel in (StreamChannel.ORDERS, StreamChannel.PNL):
                    quiet = self.registry.get(channel)
                    if (
                        quiet is not None
                        and quiet.sent_at is not None
                        and self._silent(channel, now, since_resend=True)
                    ):
                        self.watch[channel].resubscribes += 1
                        self.counters[f"{channel.value}_resubscribes"] += 1
                        log.info("%s quiet for %.1fs: subscription re-sent", channel.value,
                                 quiet_for(now, quiet.sent_at, quiet.last_data))  # fmt: skip
                        await self._send_sub(quiet)
                if self._resync_due():
                    # safety net for a quiet sor (ibind: it stops after a filtered /orders call)
                    self._last_resync = self.clock()
                    self.counters["order_resyncs"] += 1
                    self.dispatcher.spawn(self._rebuild_orders())

    # ------------------------------------------------------------------- internal: watchdog

    def _silent(self, channel: StreamChannel, now: float, *, since_resend: bool = False) -> bool:
        """Whether a subscribed topic has been quiet on the open socket past its expected interval.

        Quiet is counted from its last frame (or its first send on this socket); with
        ``since_resend`` from its last re-send as well, which is when a re-send is due again.
        """

        def quiet(sub: Subscription, since: float | None = None) -> float:
            sent = sub.sent_at if since_resend else sub.first_sent_at
            return quiet_for(now, sent, sub.last_data, since)

        if channel is StreamChannel.QUOTE:
            return any(
                s.sent_at is not None and quiet(s) >= self.quote_silence
                for s in self.registry.active(StreamChannel.QUOTE)
            )
        sub = self.registry.get(channel)
        if sub is None or sub.sent_at is None:
            return False
        if channel is StreamChannel.PNL:
            return quiet(sub) >= self.pnl_silence
        if self._orders_live_since is None:
            return False  # no working order: sor has nothing to say
        return quiet(sub, self._orders_live_since) >= self.orders_silence

    def _track_working_orders(self, now: float) -> None:
        working = any(status_info(o.status).live for o in self.decoder.orders.snapshot().values() if o.status)
        if not working:
            self._orders_live_since = None
        elif self._orders_live_since is None:
            self._orders_live_since = now

    async def _watchdog(self) -> None:
        """REST fallback per topic: everything subscribed while the socket is down; live orders
        while orders are working and ``sor`` is quiet on an open socket."""
        while True:
            await asyncio.sleep(self.tick)
            now = self.clock()
            self._track_working_orders(now)
            connected = self.connected
            for channel in WATCHED:
                if not self.registry.active(channel):
                    continue
                if connected:
                    wanted = channel is StreamChannel.ORDERS and self._silent(channel, now)
                else:
                    down = self._down_since
                    wanted = (
                        self.poll_while_down
                        and down is not None
                        and now - down >= self.poll_after
                        and (channel is StreamChannel.ORDERS or isinstance(self.client, PollingClient))
                    )
                watch = self.watch[channel]
                if wanted and not watch.busy and now >= watch.next_poll:
                    watch.busy = True
                    watch.next_poll = now + self._poll_interval(channel)
                    self.dispatcher.spawn(self._poll(channel))

    def _poll_interval(self, channel: StreamChannel) -> float:
        floor = self.quote_poll_interval if channel is StreamChannel.QUOTE else self.tick
        return poll_interval(self.client, channel, floor)

    async def _poll(self, channel: StreamChannel) -> None:
        watch = self.watch[channel]
        ok = False
        try:
            if channel is StreamChannel.QUOTE:
                ok = await self._poll_quotes()
            elif channel is StreamChannel.ORDERS:
                ok = await self._rebuild_orders(source="poll")
            else:
                ok = await self._poll_pnl()
        finally:
            watch.busy = False
            watch.polled(self.clock(), ok)
            self.counters[f"{channel.value}_polls" if ok else f"{channel.value}_poll_errors"] += 1

    def _poll_failed_log(self, channel: StreamChannel) -> None:
        """A failing poll is a warning once; repeats (the gateway is gone too) are debug lines."""
        level = logging.DEBUG if self.watch[channel].poll_failed else logging.WARNING
        log.log(level, "%s poll failed: %s", channel.value, self.last_error)

    async def _poll_quotes(self) -> bool:
        client = self.client
        subs = self.registry.active(StreamChannel.QUOTE)
        if not subs or not isinstance(client, PollingClient):
            return False
        conids = [int(s.target.partition("@")[0]) for s in subs]
        fields = list(dict.fromkeys(f for s in subs for f in s.fields))
        try:
            quotes = await client.snapshot(conids, fields)
        except Exception as exc:
            self.last_error = mask_text(f"snapshot: {exc}")[:300]
            self._poll_failed_log(StreamChannel.QUOTE)
            return False
        for quote in quotes:
            if not quote.fields:
                continue  # pre-flight answer: nothing yet
            merged, changed = self.decoder.quotes.apply(quote.conid, {**quote.fields, "conid": quote.conid})
            if changed:
                self._dispatch(QuoteEvent(conid=quote.conid, quote=merged, changed=changed))
        return True

    async def _poll_pnl(self) -> bool:
        client = self.client
        if not isinstance(client, PollingClient):
            return False
        try:
            rows = await client.pnl()
        except Exception as exc:
            self.last_error = mask_text(f"pnl: {exc}")[:300]
            self._poll_failed_log(StreamChannel.PNL)
            return False
        for key, row in rows.items():
            wire = {k: v for k, v in convert.unstructure(row).items() if v is not None}
            old = self.decoder.pnl.get(key)
            merged = self.decoder.pnl.apply(key, wire)
            if merged != old:
                self._dispatch(PnLEvent(key=key, row=merged, changed=wire))
        return True

    def _request_orders_refresh(self) -> None:
        """Re-read live orders for an order notice (coalesced: a notice during a refresh runs one
        more after it)."""
        if self._orders_refreshing:
            self._orders_again = True
            return
        self._orders_refreshing = True
        self.dispatcher.spawn(self._orders_refresh_loop(self.clock()))

    async def _orders_refresh_loop(self, noticed_at: float) -> None:
        try:
            while True:
                self._orders_again = False
                await asyncio.sleep(self.ntf_grace)
                sor = self.registry.get(StreamChannel.ORDERS)
                heard = sor.last_data if sor is not None else None
                if heard is not None and heard >= noticed_at - self.ntf_grace:
                    self.counters["order_notices_sor_had"] += 1  # sor spoke around the notice
                else:
                    await self._rebuild_orders(source="ntf")
                if not self._orders_again:
                    return
                noticed_at = self.clock()
        finally:
            self._orders_refreshing = False

    def _resync_due(self) -> bool:
        return (
            self.orders_resync is not None
            and self.registry.get(StreamChannel.ORDERS) is not None
            and self.clock() - self._last_resync >= self.orders_resync
        )

    async def _tickle(self) -> None:
        try:
            tickle = await self.client.tickle()
        except Exception as exc:
            self.counters["tickle_errors"] += 1
            log.warning("REST keep-alive failed: %s", mask_text(str(exc))[:200])
            return
        self.counters["tickles"] += 1
        auth = tickle.iserver.auth_status if tickle.iserver is not None else None
        if auth is not None and (auth.authenticated is False or auth.competing is True):
            self._kick_now("competing session" if auth.competing else "auth lost (tickle)")

    # ---------------------------------------------------------------------- internal: subscribe

    async def _resubscribe(self) -> None:
        subs = self.registry.active()
        trades = self.registry.get(StreamChannel.TRADES)
        if self.registry.get(StreamChannel.ORDERS) is not None:
            await self._rebuild_orders()
            # An order filled during the outage may be missing from /orders (it finished in the
            # previous brokerage session); its executions still show the fill.
            await self._backfill_trades(trades.days if trades is not None else 1)
        elif trades is not None:
            await self._backfill_trades(trades.days)
        for sub in subs:
            await self._send_sub(sub)

    async def _rebuild_orders(self, source: str = "rebuild") -> bool:
        """Read ``/iserver/account/orders`` (never filtered: a filtered call can stop ``sor``) and
        merge it; ``True`` when the call answered. ``source`` says why (rebuild, poll, ntf)."""
        self._last_resync = self.clock()
        force = self._force_next and isinstance(self.client, PollingClient)
        self._force_next = False
        try:
            if force:
                self._last_force = self.clock()
                self.counters["order_force_refreshes"] += 1
                orders = await cast("PollingClient", self.client).live_orders(force=True)
            else:
                orders = await self.client.live_orders()
        except Exception as exc:
            self.counters["order_rebuild_errors"] += 1
            self.last_error = mask_text(f"live orders: {exc}")[:300]
            log.warning("could not rebuild order state: %s", self.last_error)
            return False
        self.counters["order_rebuilds"] += 1
        events = self.decoder.orders.rebuild(orders)
        now = self.clock()
        if events:
            self.watch[StreamChannel.ORDERS].heard(now)
        sor = self.registry.get(StreamChannel.ORDERS)
        if events and source != "rebuild" and self.connected and sor is not None and sor.sent_at is not None:
            # REST knew of a change that sor did not bring: sor may be muted by someone's filtered
            # call (cleared only by force=true, REFERENCE §4.8); clear it, then re-send sor.
            self.counters["changes_sor_missed"] += len(events)
            if force:
                self.watch[StreamChannel.ORDERS].resubscribes += 1
                await self._send_sub(sor)
            elif isinstance(self.client, PollingClient) and (
                self._last_force is None or now - self._last_force >= self._force_every
            ):
                if self._last_force is not None and (sor.last_data or 0.0) < self._last_force:
                    # no sor frame since the last force: it did not bring sor back
                    self._force_every = min(self._force_every * 2, FORCE_MAX)
                self._force_next = True  # the next read clears the mute: start it now
                self.dispatcher.spawn(self._rebuild_orders(source="unmute"))
        elif force and sor is not None and self.connected:
            self.watch[StreamChannel.ORDERS].resubscribes += 1
            await self._send_sub(sor)
        for event in events:
            self._dispatch(event)
        return True

    async def _backfill_trades(self, days: int) -> None:
        try:
            trades = await self.client.trades(days=days)
        except Exception as exc:
            self.counters["trade_backfill_errors"] += 1
            self.last_error = mask_text(f"trades: {exc}")[:300]
            log.warning("could not back-fill trades: %s", self.last_error)
            return
        for trade in trades:
            if self.decoder.trades.add(trade):
                self.counters["backfilled_trades"] += 1
                self._dispatch(TradeEvent(trade=trade, source="rest"))
        for event in self.decoder.reconcile_fills():  # fills of orders the gateway no longer lists
            self._dispatch(event)

    async def _send_sub(self, sub: Subscription) -> None:
        if await self._send(sub.subscribe_frame()):
            sub.sent_at = self.clock()
            if sub.first_sent_at is None:
                sub.first_sent_at = sub.sent_at
            sub.sends += 1
            self.counters["subscribe_frames"] += 1

    async def _send(self, text: str) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(text)
        except websockets.ConnectionClosed:
            self._kick_now("closed while sending")
            return False
        return True

    async def _close_ws(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.counters[f"state_{state}"] += 1
            self._dispatch(SystemEvent(kind="state", state=state))


__all__ = ["IBKRStreaming"]
