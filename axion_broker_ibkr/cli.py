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


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from .errors import ConfigError
    from .store.engine import display_url, make_engine, resolve_database_url
    from .store.migrate import ensure_schema

    try:
        # An explicit --url wins over AXION_IBKR_DATABASE_URL.
        url = (
            resolve_database_url({"database_url": args.url}, environ={})
            if args.url
            else resolve_database_url()
        )
        engine = make_engine(url)
    except ConfigError as exc:
        print(f"axion-ibkr db upgrade: {exc}", file=sys.stderr)
        return 2
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()
    print(f"ibkr tables at head in {display_url(url)}")
    return 0


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

    db = sub.add_parser("db", help="the plugin's database (order log, connections, contract cache)")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_upgrade = db_sub.add_parser(
        "upgrade", help="create or migrate the plugin's tables to the latest revision"
    )
    db_upgrade.add_argument(
        "--url",
        default=None,
        help="SQLAlchemy URL (default: $AXION_IBKR_DATABASE_URL, else SQLite in the user data directory)",
    )
    db_upgrade.set_defaults(func=_cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
