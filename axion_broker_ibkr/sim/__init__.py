"""The embedded Client Portal Gateway simulator: HTTPS + WSS on loopback, a stateful paper market.

```python
from axion_broker_ibkr.sim import SimServer
with SimServer(port=0, seed=0) as sim:
    sim.base_url, sim.ws_url, sim.cert_path, sim.cert_fingerprint, sim.admin
```
"""

from __future__ import annotations

from .api.admin import SimAdmin
from .api.server import SimServer, serve

__all__ = ["SimAdmin", "SimServer", "serve"]
