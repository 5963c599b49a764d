"""The process the crash tests SIGKILL: it places one order through the real client and the SQL
order journal, and stops dead at a chosen point, after telling the parent it got there.

    python -m tests.store.crash_child DB_URL SIM_URL SSL_VERIFY POINT COID READY_FILE

``POINT`` is ``after_commit`` (the pending row is committed, the POST has not left) or
``after_post`` (the POST went out and IBKR answered, the answer is not recorded yet). The hook
lives here, in the test's child, not in library code: it wraps the journal.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import Pacer
from axion_broker_ibkr.ops.journal import JournalEntry, Modification, ModificationRef
from axion_broker_ibkr.store import SqlOrderJournal, open_store

log = logging.getLogger("crash_child")

ACCOUNT = "DU1234567"
#: A resting limit buy far below the market: it stays open at the simulator.
ORDER: dict[str, Any] = {
    "symbol": "AAPL",
    "side": "buy",
    "quantity": 3,
    "order_type": "limit",
    "limit_price": 1.00,
    "time_in_force": "gtc",
    "asset_type": "stock",
}
CONTRACT: dict[str, Any] = {
    "conid": 265598,
    "sec_type": "STK",
    "symbol": "AAPL",
    "exchange": "SMART",
    "currency": "USD",
}


#: The test's simulator runs with ``rate_scale=RATE_SCALE``; the client's pacer is scaled to match.
RATE_SCALE = 1000.0


def make_client(sim_url: str, ssl_verify: str, journal: Any, **settings: Any) -> IBKRClient:
    # o163 ("price exceeds the percentage constraint") is asked for the far-away limit price.
    config = IBKRConfig(
        mode="sim",
        sim_url=sim_url,
        ssl_verify=ssl_verify,
        account_id=ACCOUNT,
        auto_confirm=("o163",),
        **settings,
    )
    return IBKRClient(config, journal=journal, pacer=Pacer(600, scale=RATE_SCALE))


class StopAt:
    """Forwards to the real journal; at ``point`` it signals the parent and waits to be killed."""

    def __init__(self, inner: SqlOrderJournal, point: str, ready: Path) -> None:
        self.inner = inner
        self.point = point
        self.ready = ready

    def _stop(self) -> None:
        self.ready.write_text(self.point, encoding="utf-8")
        log.info("at %s: waiting for SIGKILL", self.point)
        while True:
            time.sleep(60)

    def record_pending(self, entry: JournalEntry) -> None:
        self.inner.record_pending(entry)  # committed when it returns
        if self.point == "after_commit":
            self._stop()

    def record_result(self, client_order_id: str, **kwargs: Any) -> None:
        log.info("reply for %s: %s", client_order_id, kwargs)
        if self.point == "after_post":
            self._stop()
        self.inner.record_result(client_order_id, **kwargs)

    def get(self, client_order_id: str) -> JournalEntry | None:
        return self.inner.get(client_order_id)

    def unsettled(self) -> list[JournalEntry]:
        return self.inner.unsettled()

    def record_modification(self, modification: Modification) -> ModificationRef:
        return self.inner.record_modification(modification)

    def settle_modification(self, ref: ModificationRef, **kwargs: Any) -> None:
        self.inner.settle_modification(ref, **kwargs)


def main(argv: list[str]) -> int:
    db_url, sim_url, ssl_verify, point, coid, ready = argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    store = open_store(db_url)
    journal = StopAt(store.journal, point, Path(ready))
    client = make_client(sim_url, ssl_verify, journal)
    client.place_order({**ORDER, "client_order_id": coid}, CONTRACT)
    log.error("place_order returned: the stop point %s was never reached", point)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
