"""The ``axion-ibkr`` command: sim, dashboard, status, trust, resolve, quote, db upgrade."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def _port(text: str, *, lowest: int = 1) -> int:
    """A TCP port for argparse: 1-65535, else a one-line usage error (not a traceback)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"port must be a number from {lowest} to 65535, got {text!r}"
        ) from None
    if not lowest <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be from {lowest} to 65535, got {port}")
    return port


def _listen_port(text: str) -> int:
    """A port to listen on: 0 asks the system for a free one."""
    return _port(text, lowest=0)


def _cmd_sim(args: argparse.Namespace) -> int:
    from .ops.resets import ResetSchedule
    from .sim import serve

    extra: dict[str, Any] = {}
    if args.oauth:
        from pathlib import Path

        from .errors import ConfigError
        from .sim.api.oauth import check_credentials_dir

        if not args.force:  # checked again where the set is written; refused here in one line
            try:
                check_credentials_dir(Path(args.oauth).expanduser())
            except ConfigError as exc:
                print(f"axion-ibkr sim: {exc.reason}", file=sys.stderr)
                return 2
        extra = {"oauth": True, "oauth_dir": args.oauth, "oauth_force": args.force}
    code: int = serve(
        host=args.host,
        port=args.port,
        seed=args.seed,
        logged_in=not args.logged_out,
        allow_remote=args.allow_remote,
        resets=None if args.no_resets else ResetSchedule(timezone=args.reset_timezone),
        **extra,
        sor_mode=args.sor_mode,
    )
    return code


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

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
    except SQLAlchemyError as exc:  # unreachable server, bad credentials, read-only file ...
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"axion-ibkr db upgrade: cannot open {display_url(url)}: {reason}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"ibkr tables at head in {display_url(url)}")
    return 0


# --------------------------------------------------------------------------------------------
# dashboard, status, resolve, quote (client-side commands)


def _interrupt_on_sigterm() -> None:
    """Turn SIGTERM (``kill``, systemd, a container stop) into KeyboardInterrupt, as Ctrl-C does.

    The launcher stops Streamlit and the simulator it started (and removes the simulator's temporary
    directory, which holds its private key) on KeyboardInterrupt; a SIGTERM with Python's default
    handler ends this process at once and leaves both behind.
    """
    import signal
    import threading

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise)


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from .dashboard.launcher import run_dashboard
    from .errors import IBKRError

    _interrupt_on_sigterm()
    try:
        return run_dashboard(
            port=args.port, address=args.address, mode=args.mode, sim_port=args.sim_port, seed=args.seed
        )
    except KeyboardInterrupt:  # interrupted before Streamlit ran (e.g. while the simulator started)
        return 130
    except (IBKRError, ValueError) as exc:  # a bad AXION_IBKR_* setting or user config file
        return _fail("dashboard", exc)
    except OSError as exc:  # Streamlit runs in a child: only the simulator binds here
        reason = exc.strerror or str(exc)
        print(
            f"axion-ibkr dashboard: cannot start the simulator on port {args.sim_port}: {reason}",
            file=sys.stderr,
        )
        return 2


def _session(args: argparse.Namespace) -> Any:
    """The command's session (:func:`~axion_broker_ibkr.lifecycle.open_sync_session`), read-only and
    one-shot: no order log is opened and no start-up sequence runs (the commands place no order)."""
    import os

    from .config import IBKRConfig
    from .lifecycle import open_sync_session

    env = dict(os.environ)
    if getattr(args, "mode", None):
        env["AXION_IBKR_MODE"] = args.mode
    host, port = getattr(args, "host", None), getattr(args, "port", None)
    if host is not None:
        env["AXION_IBKR_GATEWAY_HOST"] = host
    if port is not None:
        env["AXION_IBKR_GATEWAY_PORT"] = str(port)
    if host is not None or port is not None:
        # The gateway named on the command line, not a simulator URL left in the environment; in
        # sim mode that gateway is the simulator (``axion-ibkr sim --port N``).
        env.pop("AXION_IBKR_SIM_URL", None)
        if env.get("AXION_IBKR_MODE") == "sim":
            root = IBKRConfig.from_env(env).gateway_root
            env["AXION_IBKR_SIM_URL"] = root
    return open_sync_session(IBKRConfig.from_env(env), log_orders=False, start=False)


def _fail(command: str, exc: BaseException) -> int:
    from .masking import mask_text

    print(f"axion-ibkr {command}: {mask_text(str(exc))}", file=sys.stderr)
    return 2


def _cmd_status(args: argparse.Namespace) -> int:
    import datetime as dt
    import json

    from .dashboard.vm_gateway import health_state, status_rows
    from .errors import IBKRError

    try:
        with _session(args) as session:
            status = session.gateway.check()
    except IBKRError as exc:
        return _fail("status", exc)
    rows = status_rows(status)
    if status.mode == "oauth":
        expires = status.oauth_token_expires_at
        when = (
            dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if expires else "—"
        )
        rows.append({"": "OAuth token expires", "Value": when})
        rows.append({"": "OAuth refreshes", "Value": str(status.oauth_refreshes)})
    if args.json:
        print(json.dumps({row[""]: row["Value"] for row in rows}, indent=2))
    else:
        level, sentence = health_state(status, answer_first=True)
        print(f"{level.upper()}: {sentence}")
        for row in rows:
            print(f"  {row['']:<20} {row['Value']}")
    return 0 if status.healthy else 1


def _cmd_trust(args: argparse.Namespace) -> int:
    """Trust the gateway's certificate explicitly (as SSH's known hosts): show it, ask, save the pin."""
    import os

    from .config import IBKRConfig
    from .drivers.tls import fetch_certificate, fingerprint_of, trust_gateway
    from .errors import IBKRError

    try:
        config = IBKRConfig.from_env(dict(os.environ))
        host = args.host or config.gateway_host
        port = args.port or config.gateway_port
        shown = "sha256:" + fingerprint_of(fetch_certificate(host, port, config.connect_timeout))
    except (IBKRError, ValueError) as exc:
        return _fail("trust", exc)
    print(f"the gateway at {host}:{port} presents the certificate {shown}")
    from .userconfig import gateway_pin

    before = gateway_pin(host, port)
    if before == shown:
        print(f"{host}:{port} is already trusted with this certificate; nothing changed")
        return 0
    if (
        before is not None
    ):  # as SSH's known hosts: a changed certificate is said loudly, never replaced quietly
        print(
            f"WARNING: {host}:{port} was trusted with a DIFFERENT certificate ({before}); trusting "
            "replaces that pin. Do so only if you know why the gateway's certificate changed "
            "(a reinstalled gateway makes a new one).",
            file=sys.stderr,
        )
    if not args.yes:
        if not sys.stdin.isatty():
            print("axion-ibkr trust: not a terminal; pass --yes to trust it without asking", file=sys.stderr)
            return 2
        answer = input(f"trust this certificate for {host}:{port}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not trusted; nothing saved")
            return 1
    try:
        saved = trust_gateway(host, port, timeout=config.connect_timeout)
    except (IBKRError, ValueError) as exc:
        return _fail("trust", exc)
    if saved != shown:
        print(f"axion-ibkr trust: the certificate changed while asking (now {saved}); saved the new one")
    print(f"trusted {host}:{port} ({saved}); saved in the user config file")
    return 0


def _details(args: argparse.Namespace) -> dict[str, Any]:
    names = ("expiry", "strike", "right", "exchange", "currency", "maturity", "coupon", "issuer")
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def _cmd_resolve(args: argparse.Namespace) -> int:
    import json

    from .errors import IBKRError

    try:
        with _session(args) as session:
            contract = session.resolver.resolve(args.symbol, args.type, _details(args))
            mode = session.client.mode
    except (IBKRError, ValueError) as exc:
        return _fail("resolve", exc)
    from .naming import describe_contract

    # ``name``: the contract as a trader reads it (``AAPL 2027-01-15 185 P``, ``ES Dec 2026 (ESZ6)``).
    print(json.dumps({"name": describe_contract(contract), **contract.to_host(), "mode": mode}, indent=2))
    return 0


def _cmd_quote(args: argparse.Namespace) -> int:
    import json

    from .errors import IBKRError
    from .masking import mask_text
    from .naming import describe_contract

    failed: dict[str, str] = {}
    try:
        with _session(args) as session:
            client = session.client
            contracts: dict[str, Any] = {}
            for symbol in args.symbols:
                try:
                    # a quote reads no contract rules: not fetched (two paced requests per symbol)
                    kind = args.type or _quote_type(symbol)
                    contracts[symbol] = session.resolver.resolve(symbol, kind, {}, rules=False)
                except (IBKRError, ValueError) as exc:  # this symbol fails; the others are quoted
                    failed[symbol] = mask_text(str(exc))
            conids = [c.conid for c in contracts.values()]
            quotes = {q.conid: q for q in client.snapshot(conids)} if conids else {}
            mode = client.mode
    except (IBKRError, ValueError) as exc:
        return _fail("quote", exc)
    rows = []
    for symbol in args.symbols:
        if symbol in failed:
            rows.append({"symbol": symbol, "error": failed[symbol], "mode": mode})
            continue
        contract = contracts[symbol]
        q = quotes.get(contract.conid)
        rows.append(
            {
                "symbol": symbol,
                "conid": contract.conid,
                "sec_type": contract.sec_type,
                "name": describe_contract(contract),
                "bid": q.bid if q else None,
                "ask": q.ask if q else None,
                "last": q.last if q else None,
                "last_is_close": q.last_is_close if q else None,
                "volume": q.volume if q else None,
                "mode": mode,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'symbol':<12} {'conid':>10} {'bid':>12} {'ask':>12} {'last':>12}  contract   [{mode}]")
        for r in rows:
            if "error" in r:
                print(f"{r['symbol']:<12} {'—':>10} {r['error']}")
                continue
            cells = [f"{r[k]:>12,.6g}" if r[k] is not None else f"{'—':>12}" for k in ("bid", "ask", "last")]
            print(f"{r['symbol']:<12} {r['conid']:>10} {' '.join(cells)}  {r['name']}")
    for symbol, reason in failed.items():
        print(f"axion-ibkr quote: {symbol}: {reason}", file=sys.stderr)
    if not failed:
        return 0
    return 2 if len(failed) == len(args.symbols) else 1


_FOREX_RE = r"^[A-Za-z]{3}\.[A-Za-z]{3}$"


def _quote_type(symbol: str) -> str:
    """The asset type of a quoted symbol without --type: ``EUR.USD`` (XXX.YYY) is forex, else stock."""
    import re

    return "forex" if re.match(_FOREX_RE, symbol.strip()) else "stock"


def _gateway_args(command: argparse.ArgumentParser, modes: tuple[str, ...]) -> None:
    """``--mode``, ``--host``, ``--port``: the client a command connects (default: the configured one)."""
    command.add_argument("--mode", choices=modes, default=None, help="override AXION_IBKR_MODE")
    command.add_argument("--host", default=None, help="gateway host (overrides AXION_IBKR_GATEWAY_HOST)")
    command.add_argument(
        "--port", type=_port, default=None, help="gateway port (overrides AXION_IBKR_GATEWAY_PORT)"
    )


def _add_client_commands(sub: Any) -> None:
    modes = ("auto", "gateway", "sim", "oauth")
    dash = sub.add_parser(
        "dashboard",
        help="open the IBKR page in Streamlit (starts the simulator when nothing listens on the port)",
        description="Start the Streamlit page. In auto mode (default) the embedded simulator is "
        "started when nothing accepts a connection at AXION_IBKR_GATEWAY_HOST:PORT (anything "
        "listening there is the gateway, trusted or not).",
    )
    dash.add_argument("--port", type=_port, default=8501, help="Streamlit port (default 8501)")
    dash.add_argument("--address", default="127.0.0.1", help="Streamlit bind address (default loopback)")
    dash.add_argument("--mode", choices=modes, default=None, help="override AXION_IBKR_MODE")
    dash.add_argument(
        "--sim-port", type=_listen_port, default=0, help="simulator port when one is started (0 = free)"
    )
    dash.add_argument("--seed", type=int, default=0, help="seed of the simulated market")
    dash.set_defaults(func=_cmd_dashboard)

    status = sub.add_parser("status", help="gateway health: connected, authenticated, competing, account")
    _gateway_args(status, modes)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_cmd_status)

    trust = sub.add_parser(
        "trust", help="trust the gateway's TLS certificate (shows its fingerprint, asks, saves the pin)"
    )
    trust.add_argument("--host", default=None, help="gateway host (default: AXION_IBKR_GATEWAY_HOST)")
    trust.add_argument("--port", type=_port, default=None, help="gateway port (default: the configured one)")
    trust.add_argument("--yes", action="store_true", help="do not ask (required without a terminal)")
    trust.set_defaults(func=_cmd_trust)

    resolve = sub.add_parser("resolve", help="resolve SYMBOL to one IBKR contract (conid) and print it")
    resolve.add_argument("symbol", metavar="SYMBOL")
    resolve.add_argument(
        "--type", default="stock", help="asset type: stock, etf, option, forex, futures, bond (default stock)"
    )
    resolve.add_argument("--expiry", help="options/futures: YYYYMMDD or YYYYMM")
    resolve.add_argument("--strike", type=float, help="options: strike")
    resolve.add_argument("--right", choices=("C", "P"), help="options: C or P")
    resolve.add_argument("--exchange", help="exchange, e.g. CME")
    resolve.add_argument("--currency", help="currency, e.g. EUR")
    resolve.add_argument("--maturity", help="bonds: maturity YYYYMMDD or YYYYMM")
    resolve.add_argument("--coupon", type=float, help="bonds: coupon in percent, e.g. 4.25")
    resolve.add_argument("--issuer", help="bonds: issuer id (e1400789) or part of its name")
    _gateway_args(resolve, modes)
    resolve.set_defaults(func=_cmd_resolve)

    quote = sub.add_parser("quote", help="snapshot quotes for one or more symbols")
    quote.add_argument("symbols", metavar="SYMBOL", nargs="+")
    quote.add_argument(
        "--type",
        default=None,
        help="asset type of every SYMBOL (default: forex for XXX.YYY such as EUR.USD, else stock)",
    )
    _gateway_args(quote, modes)
    quote.add_argument("--json", action="store_true", help="print JSON")
    quote.set_defaults(func=_cmd_quote)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="axion-ibkr", description="Interactive Brokers plugin for Axion")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sim = sub.add_parser("sim", help="run the embedded Client Portal Gateway simulator (HTTPS + WSS)")
    sim.add_argument("--host", default="127.0.0.1", help="bind address (loopback unless --allow-remote)")
    sim.add_argument(
        "--port",
        type=_listen_port,
        default=5000,
        help="port (default 5000, like the real gateway; 0: any free port)",
    )
    sim.add_argument("--seed", type=int, default=0, help="seed of the simulated market's random walk")
    sim.add_argument(
        "--logged-out", action="store_true", help="start with no SSO session (401 until /sim/login)"
    )
    sim.add_argument("--allow-remote", action="store_true", help="permit a non-loopback bind address")
    sim.add_argument(
        "--no-resets",
        action="store_true",
        help="no nightly reset (01:00 server time) and no Saturday maintenance on the simulated clock",
    )
    sim.add_argument(
        "--reset-timezone", default="America/New_York", help="the simulated server region's time zone"
    )
    sim.add_argument(
        "--oauth",
        metavar="DIR",
        default=None,
        help="play IBKR's OAuth 1.0a server: write a first-party credential set into DIR "
        "(oauth.json, the two private keys, ca.pem) and accept only signed requests; a credential set "
        "in DIR the simulator did not write is refused (see --force)",
    )
    sim.add_argument(
        "--force",
        action="store_true",
        help="with --oauth: overwrite a credential set in DIR even if the simulator did not write it",
    )
    sim.add_argument(
        "--sor-mode",
        choices=("stops_after_filter", "silent", "unaffected"),
        default="stops_after_filter",
        help="websocket order updates: muted by a filtered live-orders call until force=true (default), "
        "never sent (as a build 10.46 gateway), or unaffected by filters",
    )
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

    _add_client_commands(sub)
    for subparsers in (sub, db_sub):  # `axion-ibkr sim --help` says what sim is, as the list does
        for action in subparsers._choices_actions:
            command = subparsers.choices[action.dest]
            if command.description is None and action.help:
                command.description = action.help[0].upper() + action.help[1:] + "."
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except BrokenPipeError:  # `axion-ibkr resolve ES | head`: the reader left; no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
