"""Unknown order-dict keys against the simulator: refused ones send nothing, ignored ones are listed
in the order-log row (its transcript) and never reach the payload."""

from __future__ import annotations

from typing import Any

import pytest

from tests.client.conftest import AAPL_STOCK as STOCK
from tests.client.conftest import aapl_limit, call, sim_client


async def test_ignored_keys_are_logged_and_refused_keys_send_nothing(kind: str, fast_sim: Any) -> None:
    client = sim_client(kind, fast_sim)
    try:
        order = await aapl_limit(client, 0.99, asset_type="stock")
        before = len(await call(client.live_orders()))
        for bad in ({"limt_price": 1.0}, {"take_profit": {"limit_price": 999.0}}):
            with pytest.raises(ValueError, match=r"limt_price|take_profit"):
                await call(client.place_order({**order, **bad}, STOCK))
        assert len(await call(client.live_orders())) == before  # nothing was sent
        assert client.journal.entries() == []  # type: ignore[union-attr]  # and no row was written

        result = await call(client.place_order({**order, "strategy": "s-1", "tag": "t"}, STOCK))
        assert result.status == "open"
        entry = client.journal.get(result.client_order_id)  # type: ignore[union-attr]
        assert entry is not None
        assert entry.transcript[0]["ignored_keys"] == ["strategy", "tag"]
        assert not {"strategy", "tag"} & set(entry.payload)
        await call(client.cancel_order(result.order_id))
    finally:
        await call(client.close())
