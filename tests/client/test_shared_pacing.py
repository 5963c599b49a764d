"""One pacing budget per gateway, shared by every process (issue 12 item 3).

Real processes (``multiprocessing``, spawned) against one simulator with its pacing and penalty box
on; the file store lives in the test's own directory (the autouse ``pacing_dir`` fixture).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from axion_broker_ibkr.client import IBKRClient
from axion_broker_ibkr.config import IBKRConfig
from axion_broker_ibkr.drivers.pacing import SAFETY, Pacer
from axion_broker_ibkr.drivers.pacing_stores import (
    FileStore,
    MemoryStore,
    PacingState,
    SqlPacingStore,
    gateway_key,
    open_pacing_store,
    state_file,
)
from axion_broker_ibkr.errors import ConfigError, RateLimitedError
from axion_broker_ibkr.sim import SimServer
from tests.conftest import ROOT

SCALE = 5.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sim_config(sim: SimServer, store: str, pacing_dir: Path | str, **extra: Any) -> IBKRConfig:
    return IBKRConfig(
        mode="sim", sim_url=sim.root_url, ssl_verify=sim.cert_fingerprint, max_requests_per_minute=600,
        pacing_store=store, pacing_dir=str(pacing_dir), **extra,
    )  # fmt: skip


@pytest.fixture
def paced_sim() -> Any:
    """A simulator whose limits (and the clients' pacers) are scaled by ``SCALE``; penalty box on."""
    server = SimServer(port=0, seed=5, rate_scale=SCALE, penalty_seconds=1.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------------------ stores, one process


def test_two_pacers_on_one_file_book_one_budget(tmp_path: Path) -> None:
    clock = FakeClock()
    path = state_file(tmp_path, "localhost", 5000)
    a = Pacer(600, clock=clock, store=FileStore(path))
    b = Pacer(600, clock=clock, store=FileStore(path))
    assert a.reserve("GET", "/iserver/accounts") == 0.0
    # b is another process's pacer: its first request waits for a's slot, not for nothing.
    assert b.reserve("GET", "/iserver/accounts") == pytest.approx(SAFETY / 10)
    assert a.reserve("GET", "/iserver/accounts") == pytest.approx(2 * SAFETY / 10)
    # per-endpoint intervals too: /portfolio/accounts is 1 per 5 s for the whole gateway
    clock.now += 10
    assert a.reserve("GET", "/portfolio/accounts") == 0.0
    assert b.reserve("GET", "/portfolio/accounts") == pytest.approx(5 * SAFETY)


def test_a_429_seen_by_one_pacer_blocks_every_pacer_of_the_gateway(tmp_path: Path) -> None:
    clock = FakeClock()
    path = state_file(tmp_path, "127.0.0.1", 5000)
    a = Pacer(600, clock=clock, store=FileStore(path), rate_limit_backoff=30)
    b = Pacer(600, clock=clock, store=FileStore(path), rate_limit_backoff=30)
    assert a.penalize() == 30
    assert b.blocked_for == pytest.approx(30)
    with pytest.raises(RateLimitedError, match="backing off after HTTP 429"):
        b.reserve("GET", "/iserver/accounts")
    assert b.penalize() == 60  # the strike count is shared too: the back-off doubles
    clock.now += 61
    assert b.reserve("GET", "/iserver/accounts") == 0.0


def test_history_slots_are_counted_for_the_whole_gateway(tmp_path: Path) -> None:
    clock = FakeClock()
    path = state_file(tmp_path, "localhost", 5000)
    a = Pacer(600, clock=clock, store=FileStore(path))
    b = Pacer(600, clock=clock, store=FileStore(path))
    assert a.max_concurrent("GET", "/iserver/marketdata/history") == ("history", 5)
    tokens = [a.try_acquire("history", 5, ttl=20) for _ in range(3)]
    tokens += [b.try_acquire("history", 5, ttl=20) for _ in range(2)]
    assert None not in tokens and len(set(tokens)) == 5
    assert b.try_acquire("history", 5, ttl=20) is None  # five in flight, from both processes
    a.release("history", str(tokens[0]))
    again = b.try_acquire("history", 5, ttl=20)
    assert again is not None
    assert a.try_acquire("history", 5, ttl=20) is None
    clock.now += 21  # a process that died holding slots does not keep them
    assert a.try_acquire("history", 5, ttl=20) is not None


def test_localhost_and_loopback_are_one_gateway_and_ports_are_not(tmp_path: Path) -> None:
    assert gateway_key("localhost", 5000) == gateway_key("127.0.0.1", 5000) == "127.0.0.1:5000"
    assert state_file(tmp_path, "localhost", 5000) == state_file(tmp_path, "127.0.0.1", 5000)
    assert state_file(tmp_path, "localhost", 5000) != state_file(tmp_path, "localhost", 5001)


def test_an_unreadable_or_stale_state_starts_over(tmp_path: Path) -> None:
    path = state_file(tmp_path, "localhost", 5000)
    path.write_bytes(b'{"v":1,"tat":1e12,"blo')  # torn write
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, store=FileStore(path))
    assert pacer.reserve("GET", "/iserver/accounts") == 0.0
    # booked far beyond anything the pacer could book (another boot's monotonic clock): ignored
    path.write_bytes(PacingState(tat=clock.now + 10 * 86400, blocked_until=clock.now + 86400).to_json())
    assert pacer.blocked_for == pytest.approx(86400)  # reading does not judge...
    assert pacer.reserve("GET", "/iserver/accounts") == 0.0  # ...booking does, and starts over


def test_a_shorter_state_over_a_longer_one_reads_back(tmp_path: Path) -> None:
    path = state_file(tmp_path, "localhost", 5000)
    a, b = FileStore(path), FileStore(path)

    def grow(state: PacingState) -> None:
        state.next_at = {f"rule{i}": 1000.0 + i for i in range(40)}

    def shrink(state: PacingState) -> None:
        state.next_at = {"tickle": 5.0}
        state.strikes = 2

    a.update(grow)
    size = path.stat().st_size
    b.update(shrink)  # padded, not truncated: the file keeps its size and stays valid JSON
    assert path.stat().st_size == size
    assert a.read() == PacingState(strikes=2, next_at={"tickle": 5.0})


def test_config_chooses_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_pacing_store(IBKRConfig(pacing_store="memory"), "localhost", 5000), MemoryStore)
    auto = open_pacing_store(IBKRConfig(pacing_dir=str(tmp_path)), "localhost", 5000)
    assert isinstance(auto, FileStore) and auto.path.parent == tmp_path
    monkeypatch.setenv("AXION_IBKR_PACING_STORE", "memory")
    assert IBKRConfig.from_env().pacing_store == "memory"
    with pytest.raises(ConfigError, match="pacing_store"):
        IBKRConfig(pacing_store="redis")
    with pytest.raises(ConfigError, match=r"pacing_store.*postgresql"):
        open_pacing_store(IBKRConfig(pacing_store="postgres", database_url="sqlite:///x.db"), "h", 1)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="pacing_dir"):
        open_pacing_store(IBKRConfig(pacing_store="file", pacing_dir=str(blocker / "sub")), "h", 1)
    # auto never fails: it paces in memory (with a warning) when the directory is unusable
    fallback = open_pacing_store(IBKRConfig(pacing_dir=str(blocker / "sub")), "h", 1)
    assert isinstance(fallback, MemoryStore)


def test_the_client_shares_its_gateways_budget_by_default(paced_sim: SimServer, pacing_dir: Path) -> None:
    config = IBKRConfig(mode="sim", sim_url=paced_sim.root_url, ssl_verify=paced_sim.cert_fingerprint)
    with IBKRClient(config) as one, IBKRClient(config) as two:
        assert one.pacer.store.name == "file" and two.pacer.store.name == "file"
        assert isinstance(one.pacer.store, FileStore)
        assert one.pacer.store.path == state_file(pacing_dir, "127.0.0.1", paced_sim.port)
    # the embedded simulator is this process's own: nobody shares it
    with IBKRClient(IBKRConfig(mode="sim")) as own:
        assert own.pacer.store.name == "memory"


def test_oauth_mode_paces_the_web_apis_budget(pacing_dir: Path) -> None:
    from tests.client.test_oauth_sim import oauth_config

    with SimServer(port=0, seed=5, oauth=True) as sim, IBKRClient(oauth_config(sim)) as client:
        assert isinstance(client.pacer.store, FileStore)
        assert client.pacer.store.path == state_file(pacing_dir, "127.0.0.1", sim.port)
        assert client.auth_status().authenticated


def test_the_sql_store_shares_a_row_per_gateway(tmp_path: Path) -> None:
    """The ``postgres`` store's table and locking, on SQLite (PostgreSQL: tests/store, when set)."""
    from axion_broker_ibkr.store import make_engine
    from axion_broker_ibkr.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    upgrade(engine)
    clock = FakeClock()
    a = Pacer(600, clock=clock, store=SqlPacingStore(engine, gateway_key("localhost", 5000)))
    b = Pacer(600, clock=clock, store=SqlPacingStore(engine, gateway_key("127.0.0.1", 5000)))
    other = Pacer(600, clock=clock, store=SqlPacingStore(engine, gateway_key("127.0.0.1", 5001)))
    assert a.reserve("GET", "/iserver/accounts") == 0.0
    assert b.reserve("GET", "/iserver/accounts") == pytest.approx(SAFETY / 10)
    assert other.reserve("GET", "/iserver/accounts") == 0.0
    a.penalize(retry_after=12)
    assert b.blocked_for == pytest.approx(12)
    assert other.blocked_for == 0.0
    engine.dispose()


# ------------------------------------------------------------------- several real processes


def _worker(url: str, pin: str, store: str, pacing_dir: str, calls: int, go: Any, out: Any) -> None:
    from axion_broker_ibkr.client import IBKRClient
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.drivers.pacing import Pacer
    from axion_broker_ibkr.drivers.pacing_stores import open_pacing_store
    from axion_broker_ibkr.errors import RateLimitedError

    config = IBKRConfig(
        mode="sim", sim_url=url, ssl_verify=pin, max_requests_per_minute=600, pacing_store=store,
        pacing_dir=pacing_dir,
    )  # fmt: skip
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    pacer = Pacer(600, scale=SCALE, store=open_pacing_store(config, host, int(port)))
    done = 0
    try:
        with IBKRClient(config, pacer=pacer) as client:
            client.accounts()
            go.wait()
            try:
                for i in range(calls):
                    if i % 10 == 3:
                        client.tickle()
                    elif i % 4 == 0:
                        client.snapshot([265598], ["31"])
                    else:
                        client.contract_info(265598)
                    done += 1
            except RateLimitedError:
                pass
    except Exception as exc:  # reported to the test instead of leaving it waiting
        out.put(f"worker failed: {exc!r}")
        return
    out.put(done)


def _run_processes(
    sim: SimServer, store: str, pacing_dir: Path, procs: int, calls: int
) -> tuple[int, list[int]]:
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    args = (sim.root_url, sim.cert_fingerprint, store, str(pacing_dir), calls, go, out)
    workers = [ctx.Process(target=_worker, args=args) for _ in range(procs)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 60
    while sim.state.pacer.counts.get("/iserver/accounts", 0) < procs and time.monotonic() < deadline:
        time.sleep(0.05)
    before = sim.state.pacer.state()["too_many_requests_total"]
    go.set()
    done = [out.get(timeout=90) for _ in workers]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0
    after = sim.state.pacer.state()["too_many_requests_total"]
    assert isinstance(before, int) and isinstance(after, int)
    return after - before, done


def test_processes_sharing_the_file_store_never_meet_a_429(paced_sim: SimServer, pacing_dir: Path) -> None:
    too_many, done = _run_processes(paced_sim, "file", pacing_dir, procs=4, calls=60)
    assert too_many == 0
    assert done == [60] * 4
    assert paced_sim.state.pacer.state()["penalty_box"]["times_engaged"] == 0  # type: ignore[index]


def test_processes_pacing_alone_meet_429s(paced_sim: SimServer, pacing_dir: Path) -> None:
    """The control: the same load with a budget per process exceeds the gateway's limits."""
    too_many, done = _run_processes(paced_sim, "memory", pacing_dir, procs=4, calls=60)
    assert too_many > 0
    assert min(done) < 60


def _history_worker(url: str, pin: str, pacing_dir: str, store: str, go: Any, out: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from axion_broker_ibkr.client import IBKRClient
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.errors import RateLimitedError

    config = IBKRConfig(
        mode="sim", sim_url=url, ssl_verify=pin, pacing_dir=pacing_dir, pacing_store=store,
        max_requests_per_minute=600,
    )  # fmt: skip
    with IBKRClient(config) as client:
        client.accounts()
        go.wait()

        def one(_: int) -> bool:
            try:
                client.history(265598, bar="1d", period="1w")
                return True
            except RateLimitedError:
                return False

        with ThreadPoolExecutor(4) as pool:  # four at once in this process (its own cap is 5)
            out.put(sum(pool.map(one, range(8))))


def _history_run(sim: SimServer, store: str, pacing_dir: Path) -> int:
    sim.admin.config(history_delay_ms=400)  # each answer takes a while, as IBKR's history farm does
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    args = (sim.root_url, sim.cert_fingerprint, str(pacing_dir), store, go, out)
    procs = [ctx.Process(target=_history_worker, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    deadline = time.monotonic() + 60
    while sim.state.pacer.counts.get("/iserver/accounts", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    go.set()
    results = [out.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return sum(results)


def test_processes_share_the_history_concurrency_cap(fresh_sim: SimServer, pacing_dir: Path) -> None:
    """IBKR allows 5 history requests at once per gateway: two processes with four threads each
    never have more than five out together, so none is refused."""
    assert _history_run(fresh_sim, "file", pacing_dir) == 16
    assert fresh_sim.state.pacer.too_many.get("/iserver/marketdata/history", 0) == 0


def test_history_caps_per_process_exceed_the_gateways(fresh_sim: SimServer, pacing_dir: Path) -> None:
    """The control: with a budget per process, eight at once meet the gateway's refusal."""
    _history_run(fresh_sim, "memory", pacing_dir)
    assert fresh_sim.state.pacer.too_many.get("/iserver/marketdata/history", 0) > 0


def _blocked_worker(url: str, pin: str, pacing_dir: str, out: Any) -> None:
    from axion_broker_ibkr.client import IBKRClient
    from axion_broker_ibkr.config import IBKRConfig
    from axion_broker_ibkr.errors import RateLimitedError

    config = IBKRConfig(mode="sim", sim_url=url, ssl_verify=pin, pacing_dir=pacing_dir)
    with IBKRClient(config) as client:
        try:
            client.contract_info(265598)
        except RateLimitedError as exc:
            out.put(("blocked", str(exc), client.pacer.blocked_for))
        else:
            out.put(("sent", "", 0.0))


def test_a_429_in_one_process_backs_off_the_others(fresh_sim: SimServer, pacing_dir: Path) -> None:
    config = IBKRConfig(
        mode="sim", sim_url=fresh_sim.root_url, ssl_verify=fresh_sim.cert_fingerprint, rate_limit_backoff=30
    )
    with IBKRClient(config) as client:
        client.accounts()
        fresh_sim.admin.fail(429, count=1)
        with pytest.raises(RateLimitedError):
            client.contract_info(265598)
    sent_before = sum(fresh_sim.state.pacer.counts.values())
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_blocked_worker, args=(fresh_sim.root_url, fresh_sim.cert_fingerprint,
                                                     str(pacing_dir), out))  # fmt: skip
    proc.start()
    kind, message, left = out.get(timeout=60)
    proc.join(timeout=30)
    assert kind == "blocked", "another process sent into a gateway that had just answered 429"
    assert "backing off after HTTP 429" in message
    assert 20 < left <= 30
    assert sum(fresh_sim.state.pacer.counts.values()) == sent_before  # nothing reached the gateway


# ---------------------------------------------------------------------------------- the CLI


def _cli_env(sim: SimServer, pacing_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXION_IBKR_")}
    env.update(
        AXION_IBKR_CONFIG_FILE=os.environ["AXION_IBKR_CONFIG_FILE"],
        AXION_IBKR_MODE="sim",
        AXION_IBKR_SIM_URL=sim.root_url,
        AXION_IBKR_SSL_VERIFY=sim.cert_fingerprint,
        AXION_IBKR_MAX_REQUESTS_PER_MINUTE="600",
        AXION_IBKR_PACING_DIR=str(pacing_dir),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


COMMANDS = (["quote", "AAPL", "MSFT", "IBM"], ["resolve", "AAPL"], ["status"])


def test_cli_commands_back_to_back_and_at_once_share_the_budget(pacing_dir: Path) -> None:
    sim = SimServer(port=0, seed=3, penalty_seconds=1.0).start()  # IBKR's own limits (scale 1)
    try:
        env = _cli_env(sim, pacing_dir)
        cmd = [sys.executable, "-m", "axion_broker_ibkr.cli"]
        for i in range(6):  # back to back, as a trader types them
            started = time.monotonic()
            run = subprocess.run(cmd + COMMANDS[i % 3], env=env, capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stderr
            assert time.monotonic() - started < 20  # no 60 s back-off
        # ... and six at once, as a host's page, executor and jobs would
        procs = [subprocess.Popen(cmd + COMMANDS[i % 3], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(6)]  # fmt: skip
        for proc in procs:
            _out, err = proc.communicate(timeout=90)
            assert proc.returncode == 0, err
        pacing = sim.state.pacer.state()
        assert pacing["too_many_requests_total"] == 0, pacing["too_many_requests"]
        assert state_file(pacing_dir, "127.0.0.1", sim.port).is_file()
    finally:
        sim.stop()
