"""The ``axion-ibkr`` command: sim, dashboard, status, resolve, quote, db upgrade."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_sim(args: argparse.Namespace) -> int:
    from .sim import serve

    code: int = serve(
        host=args.host,
        port=args.port,
        seed=args.seed,
        logged_in=not args.logged_out,
        allow_remote=args.allow_remote,
    )
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="axion-ibkr", description="Interactive Brokers plugin for Axion")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser("sim", help="run the embedded Client Portal Gateway simulator (HTTPS + WSS)")
    sim.add_argument("--host", default="127.0.0.1", help="bind address (loopback unless --allow-remote)")
    sim.add_argument("--port", type=int, default=5000, help="port (default 5000, like the real gateway)")
    sim.add_argument("--seed", type=int, default=0, help="seed of the simulated market's random walk")
    sim.add_argument(
        "--logged-out", action="store_true", help="start with no SSO session (401 until /sim/login)"
    )
    sim.add_argument("--allow-remote", action="store_true", help="permit a non-loopback bind address")
    sim.set_defaults(func=_cmd_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
