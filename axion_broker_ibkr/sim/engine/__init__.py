"""The simulator's market engine: the instrument universe, the clock, prices, paper accounts, the
order engine (tickets, questions, matching), the brokerage session and historical bars.

Nothing here speaks HTTP or WebSocket or imports the API layer (``sim.api``); the import graph is
checked by ``tests/unit/test_sim_layers.py`` and ``tests/unit/test_layering.py``, which also keeps
the gateway's field names out (the API layer reads the tickets: ``sim.api.ticket_reader``, handed to
``OrderEngine``). Left to do: the engine still takes the request bodies as JSON (a modification is
merged into the order's ticket as sent) and writes its answers to place / reply / modify / cancel as
the gateway's JSON bodies (``order_engine.Reply``); the other JSON answers (orders and trades,
account views, what-if, secdef, snapshot fields) are ``sim.api``'s.
"""
