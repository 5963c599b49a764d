"""Give a simulator's paper account positions in every asset class (for screenshots and tests).

Conids are looked up through the plugin's own client (the same calls the page makes), then the
positions are set through the simulator's admin path.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.config import IBKRConfig


def _client(root_url: str, fingerprint: str) -> IBKRClient:
    return IBKRClient(
        IBKRConfig(mode="sim", sim_url=root_url, ssl_verify=fingerprint, gateway_host="127.0.0.1")
    )


def multi_asset_conids(root_url: str, fingerprint: str) -> dict[str, int]:
    """One conid per asset class: a front-month ES future, an AAPL option, EUR.USD, an IBM bond."""
    with _client(root_url, fingerprint) as client:
        futures = sorted(
            (f for f in client.futures(["ES"]).get("ES", []) if f.conid and f.expiration_date),
            key=lambda f: f.expiration_date or dt.date.max,
        )
        aapl = next(r for r in client.search("AAPL", sec_type="STK") if r.conid)
        month = next(s.months for s in aapl.sections if s.sec_type == "OPT" and s.months)
        first_month = (month or "").split(";")[0]
        strikes = client.strikes(int(aapl.conid or 0), first_month)
        strike = strikes.call[len(strikes.call) // 2]
        option = client.secdef_info(
            conid=aapl.conid, sec_type="OPT", month=first_month, strike=strike, right="C"
        )
        pair = next(p for p in client.currency_pairs("EUR") if p.ccy_pair == "USD")
        bond_hit = next(r for r in client.search("IBM", sec_type="BOND") if r.issuers)
        bonds = client.secdef_info(sec_type="BOND", issuer_id=bond_hit.issuers[0].id)
    return {
        "future": int(futures[0].conid or 0),
        "option": int(option[0].conid or 0),
        "forex": int(pair.conid or 0),
        "bond": int(bonds[0].conid or 0),
    }


def seed_portfolio(admin: Any, root_url: str, fingerprint: str) -> dict[str, int]:
    """Long 2 ES, long 5 AAPL calls, long 20,000 EUR.USD, long 10 IBM bonds (paper)."""
    conids = multi_asset_conids(root_url, fingerprint)
    quantities = {"future": 2.0, "option": 5.0, "forex": 20_000.0, "bond": 10.0}
    for kind, conid in conids.items():
        admin.set_position(conid, quantities[kind])
    return conids
