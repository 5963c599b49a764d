"""The simulator's Client Portal API: the Starlette app and its routes, the WebSocket feed, the OAuth
1.0a server side, the pacing gate, the ``/sim/...`` admin endpoints and ``SimServer`` (uvicorn, TLS),
all over the market engine in ``sim.engine``. The JSON answers (``wire``, ``account_views``,
``secdef_views``, ``snapshot_fields``) are written here.
"""
