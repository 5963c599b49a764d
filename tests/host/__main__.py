"""``python -m tests.host``: print what the reference host discovers (used by the wheel test)."""

from __future__ import annotations

import json
import sys

from .multi_broker import MultiBroker


def main() -> int:
    host = MultiBroker()
    sys.stdout.write(json.dumps({"brokers": host.brokers(), "registry": host.registry}, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
