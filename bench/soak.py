"""Soak: simulated staff against the real app (uvicorn, 2 workers) on PostgreSQL.

    .venv/bin/python bench/soak.py --url postgresql+psycopg://postgres@127.0.0.1:5432/wb_bench \
        --clients 32 --seconds 300 --open-tasks 50000

It empties the database, migrates it, creates a store with advisors and ``--open-tasks`` open
survey tasks (bulk inserts), starts the app and a bare ASGI endpoint under the same uvicorn,
then runs the load: advisors list "my tasks", open one and close it; supervisors read the
cycle's tasks and reassign; managers read the progress board and the targets. It prints
requests, errors (5xx, timeouts, unexpected codes; a 409 "someone else closed it" is an
expected answer), p50/p95/p99 per operation, the ratio to the bare endpoint, and checks
afterwards that every survey closed with a 200 is closed exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "soak-password"
DATA_DIR = "/tmp/winback-soak"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(url: str, open_tasks: int, advisors: int) -> dict:
    """A fresh database with one store, its staff and ``open_tasks`` open survey tasks."""
    from db import session as dbs
    from db.migrate import upgrade
    from winback import clock, stores
    from winback.accounts import service as accounts
    from winback.accounts.models import Role
    from winback.actor import Actor
    from winback.customers.models import Customer, ServiceVisit, Vehicle
    from winback.cycles.models import CycleStage, MonthlyCycle, Target
    from winback.surveys.models import SurveyTask

    u = make_url(url)
    if u.drivername.startswith("postgresql"):
        admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{u.database}"'))
        admin.dispose()
    upgrade(url)
    dbs.configure(url)
    now = datetime.now(UTC)
    system = Actor.system(label="soak")
    with dbs.session_scope() as s:
        store = stores.create_store(session=s, code="B01", name="soak store", actor=system)
        names = {
            "advisor": [f"adv{i:02d}" for i in range(advisors)],
            "supervisor": ["sup1", "sup2"],
            "manager": ["mgr1"],
            # set up as a store is: without an administrator every page leads to the first-run set-up
            "admin": ["adm1"],
        }
        ids = {}
        for role, users in names.items():
            for name in users:
                ids[name] = accounts.create_staff(
                    session=s,
                    store_id=store.id,
                    username=name,
                    display_name=name,
                    password=PASSWORD,
                    roles=[Role(role)],
                    actor=system,
                ).id
        cycle = MonthlyCycle(
            store_id=store.id,
            month=clock.today().strftime("%Y-%m"),
            stage=CycleStage.surveying,
            settings=accounts.effective_settings(store).model_dump(),
            as_of=clock.today(),
            started_at=now,
            survey_deadline_at=now + timedelta(days=7),
            surveys_assigned_at=now,
        )
        s.add(cycle)
        s.flush()
        store_id, cycle_id = store.id, cycle.id
    engine = create_engine(url)
    batch = 5000
    last = date.today() - timedelta(days=300)
    with engine.begin() as c:
        for start in range(0, open_tasks, batch):
            n = range(start, min(start + batch, open_tasks))
            c.execute(
                insert(Customer),
                [
                    dict(
                        id=i + 1,
                        store_id=store_id,
                        dms_code=f"C{i}",
                        name=f"客户{i}",
                        phone=f"138{i:08d}",
                        created_at=now,
                    )
                    for i in n
                ],
            )
            c.execute(
                insert(Vehicle),
                [
                    dict(
                        id=i + 1,
                        store_id=store_id,
                        customer_id=i + 1,
                        vin=f"LSOAK{i:012d}",
                        model="轩逸",
                        created_at=now,
                    )
                    for i in n
                ],
            )
            c.execute(
                insert(ServiceVisit),
                [
                    dict(
                        store_id=store_id,
                        ro_number=f"RO{i}",
                        vehicle_id=i + 1,
                        customer_id=i + 1,
                        visit_date=last,
                        category="保养",
                        amount=500,
                        created_at=now,
                    )
                    for i in n
                ],
            )
            c.execute(
                insert(Target),
                [
                    dict(
                        id=i + 1,
                        store_id=store_id,
                        cycle_id=cycle_id,
                        customer_id=i + 1,
                        vehicle_id=i + 1,
                        band="at_risk",
                        last_visit_date=last,
                        months_since_visit=9,
                        in_warranty=False,
                        visit_count=1,
                        total_spend=500,
                        profile={"model": "轩逸"},
                        created_at=now,
                    )
                    for i in n
                ],
            )
            adv = names["advisor"]
            c.execute(
                insert(SurveyTask),
                [
                    dict(
                        store_id=store_id,
                        cycle_id=cycle_id,
                        target_id=i + 1,
                        customer_id=i + 1,
                        assignee_id=ids[adv[i % len(adv)]],
                        assigned_at=now,
                        due_at=now + timedelta(days=7),
                        status="open",
                        version=1,
                        band="at_risk",
                        total_spend=500,
                    )
                    for i in n
                ],
            )
        if engine.dialect.name == "postgresql":
            for table in ("customers", "vehicles", "targets"):
                c.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
            c.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        # Vacuumed and checkpointed before the clock starts, as a database that has been in use
        # would be: otherwise autovacuum (50,000 rows just inserted) and the checkpoint of the
        # load's WAL land in the measured window at random, and PostgreSQL's CPU per request
        # varied by half between runs of the same code.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM (ANALYZE)"))
            c.execute(text("CHECKPOINT"))
    engine.dispose()
    return {"cycle_id": cycle_id, "names": names, "ids": ids}


def start_server(args: list[str], env: dict, port: int, log: Path) -> subprocess.Popen:
    """The server's warnings and errors go to ``log`` (a worker that died says why there)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        p = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return p
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def _proc_cpu(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone); with ``reaped``,
    also those of its children that ended and were waited for (PostgreSQL's postmaster reaps
    every backend: a connection closed during the run keeps its CPU counted there)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """A process and its descendants (the uvicorn supervisor and its workers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def postgres_cpu(engine) -> dict[int, float]:
    """CPU seconds so far of the whole PostgreSQL server ``engine`` talks to, by process: the
    postmaster (with the backends it reaped), every backend alive and its background
    processes (WAL writer, checkpointer), which the app's writes keep busy too. Counting only
    the backends connected at two samples missed every connection opened and closed between
    them (0.1-0.3 ms a request, when ``top`` showed PostgreSQL at a quarter of the machine).
    Sum the values of two samples and subtract: a backend that ended between them moved its
    CPU into the postmaster's reaped children. Empty when the server is not on this machine."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as c:
        backend = c.scalar(text("SELECT pg_backend_pid()"))
    try:
        status = Path(f"/proc/{backend}/status").read_text()
    except OSError:
        return {}
    postmaster = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
    return {p: _proc_cpu(p, reaped=p == postmaster) for p in _tree(postmaster)}


class CpuMeter:
    """CPU seconds spent by the server's processes, the PostgreSQL server (when it runs on this
    machine) and this load generator between ``start`` and ``stop``:
    on a shared machine, CPU per request is less disturbed by other load than the rate."""

    def __init__(self, server: subprocess.Popen, url: str | None = None) -> None:
        self.server, self.engine = server, create_engine(url) if url else None
        self.before: dict[str, dict[int, float]] = {}

    def _database(self) -> dict[int, float]:
        return postgres_cpu(self.engine) if self.engine is not None else {}

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            "server": {p: _proc_cpu(p) for p in _tree(self.server.pid)},
            "database": self._database(),
            "client": {0: time.process_time()},
            "connections": {0: self._sessions()},
        }

    def _sessions(self) -> float:
        """Connections opened to this database so far (PostgreSQL's own count): each costs the
        server a new backend process and the app a log-in."""
        if self.engine is None or self.engine.dialect.name != "postgresql":
            return 0.0
        with self.engine.connect() as c:
            query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
            return float(c.scalar(text(query)) or 0)

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        if self.engine is not None:
            self.engine.dispose()
        # Each server process's own CPU seconds, busiest first: shows whether the workers
        # share the load (keep-alive connections stay with the worker that accepted them).
        self.by_process = sorted(
            (v - self.before["server"].get(p, 0.0) for p, v in after["server"].items()), reverse=True
        )
        # Totals, not per process: a backend that ended between the samples moved its CPU
        # into the postmaster's reaped children.
        return {part: sum(after[part].values()) - sum(self.before[part].values()) for part in after}


class Stats:
    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.closed: list[int] = []
        self.conflicts = 0
        self.logins: list[float] = []

    def add(self, op: str, seconds: float) -> None:
        self.lat[op].append(seconds * 1000)


async def call(client, stats, op, method, url, ok=(200,), **kw):
    t = time.perf_counter()
    try:
        r = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        stats.errors.append(f"{op}: {type(exc).__name__}")
        return None
    stats.add(op, time.perf_counter() - t)
    if r.status_code == 409:
        stats.conflicts += 1
    elif r.status_code not in ok:
        stats.errors.append(f"{op}: {r.status_code} {r.text[:80]}")
    return r


async def pause(think: float) -> None:
    """A person's time between two clicks: exponential with mean ``think`` seconds (0: none)."""
    if think > 0:
        await asyncio.sleep(random.expovariate(1 / think))


async def user(base, name, role, world, stats, clock, think):
    async with httpx.AsyncClient(base_url=base, headers={"Origin": base}, timeout=30) as c:
        # Everyone logs in first (a deliberately slow password hash: 32 at once load the
        # cores for a few seconds); the measured window starts when the last one is in.
        t = time.perf_counter()
        # (its own generous timeout: on a loaded machine 32 hashes at once take a while)
        r = await c.post("/api/auth/login", json={"username": name, "password": PASSWORD}, timeout=180)
        stats.logins.append((time.perf_counter() - t) * 1000)
        clock["in"] += 1
        if clock["in"] == clock["people"]:
            clock["meter"].start()
            clock["until"] = time.monotonic() + clock["seconds"]
            clock["start"].set()
        await clock["start"].wait()
        until = clock["until"]
        if r.status_code != 200:
            stats.errors.append(f"login {name}: {r.status_code}")
            return
        cycle = world["cycle_id"]
        advisors = [world["ids"][a] for a in world["names"]["advisor"]]
        while time.monotonic() < until:
            if role == "advisor":
                await pause(think)
                r = await call(c, stats, "my tasks", "GET", "/api/tasks/mine?limit=50")
                if r is None or r.status_code != 200 or not r.json():
                    continue
                task = random.choice(r.json()[:10])
                await pause(think)
                await call(c, stats, "task page", "GET", f"/api/tasks/{task['id']}", ok=(200, 403))
                await pause(think)
                r = await call(
                    c,
                    stats,
                    "survey submit",
                    "POST",
                    f"/api/tasks/{task['id']}/close",
                    ok=(200, 403),
                    # the one-tap contact that reached the customer, recorded with the close
                    json={
                        "method": "phone",
                        "contact_outcome": "reached",
                        "reasons": [random.choice(["high_price", "too_far"])],
                    },
                )
                if r is not None and r.status_code == 200:
                    stats.closed.append(task["id"])
            elif role == "supervisor":
                await pause(think)
                r = await call(
                    c,
                    stats,
                    "cycle tasks",
                    "GET",
                    f"/api/cycles/{cycle}/tasks?limit=50&offset={random.randint(0, 5000)}",
                )
                if r is None or r.status_code != 200 or not r.json()["items"]:
                    continue
                open_ = [t for t in r.json()["items"] if t["status"] == "open"]
                if open_:
                    t = random.choice(open_)
                    await pause(think)
                    await call(
                        c,
                        stats,
                        "reassign",
                        "POST",
                        f"/api/tasks/{t['id']}/reassign",
                        json={"assignee_id": random.choice(advisors)},
                    )
            else:
                await pause(think)
                await call(c, stats, "progress board", "GET", f"/api/cycles/{cycle}")
                await pause(think)
                await call(
                    c,
                    stats,
                    "targets",
                    "GET",
                    f"/api/cycles/{cycle}/targets?limit=100&offset={random.randint(0, 5000)}",
                )


async def bare_load(base, clients, seconds, think) -> list[float]:
    lat: list[float] = []
    until = time.monotonic() + seconds

    async def one():
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            while time.monotonic() < until:
                await pause(think)
                t = time.perf_counter()
                await c.get("/")
                lat.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(one() for _ in range(clients)))
    return lat


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--open-tasks", type=int, default=50000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean seconds a person waits between two requests (exponential); 0 = no pause, "
        "every client fires its next request as soon as the last one answers (saturation)",
    )
    ap.add_argument(
        "--shared-socket",
        action="store_true",
        help="the app under uvicorn's own --workers (one listening socket shared by the workers) "
        "instead of winback serve's (a socket per worker, SO_REUSEPORT, on Linux)",
    )
    a = ap.parse_args()
    # This process and the app share the data directory, so the audit events written while
    # preparing and those of the run are chained with the same audit key and verify together.
    os.environ["WINBACK_DATA_DIR"] = DATA_DIR
    n_adv = max(1, a.clients - 4)  # 2 supervisors and 2 manager sessions, the rest advisors
    t0 = time.monotonic()
    world = prepare(a.url, a.open_tasks, n_adv)
    print(f"prepared {a.open_tasks} open tasks for {n_adv} advisors in {time.monotonic() - t0:.0f} s")
    env = {
        **os.environ,
        "WINBACK_DATABASE_URL": a.url,
        "WINBACK_LOGIN_MAX_FAILURES": "1000",
    }
    app_port, bare_port = free_port(), free_port()
    uv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--workers",
        str(a.workers),
        "--log-level",
        "warning",
        # uvicorn's supervisor kills a worker that does not answer its ping within 5 s: on a
        # machine at load 15-30 (other people's work) a busy worker was killed mid-run and its
        # clients saw "server disconnected". Same setting for the app and the bare endpoint.
        "--timeout-worker-healthcheck",
        "60",
        "--host",
        "127.0.0.1",
    ]
    logs = Path(env["WINBACK_DATA_DIR"])
    if a.shared_socket:
        app_cmd = uv + ["--port", str(app_port), "--factory", "app:create_app"]
    else:  # as ``winback serve --workers N`` serves it (winback.cli.web_workers)
        app_cmd = [
            sys.executable,
            "-c",
            "from winback.cli.web_workers import serve;"
            f"serve(host='127.0.0.1', port={app_port}, workers={a.workers})",
        ]
    app = start_server(app_cmd, env, app_port, logs / "app.log")
    bare = start_server(
        uv + ["--port", str(bare_port), "bench.bare_app:app"], env, bare_port, logs / "bare.log"
    )
    # The bare endpoint runs half its time before the app's window and half after, so that
    # other load on a shared machine that comes or goes during the run weighs on both alike.
    bare_seconds = 2 * max(1, min(10, a.seconds // 2))
    bare_url = f"http://127.0.0.1:{bare_port}"
    try:
        bare_meter = CpuMeter(bare)
        bare_meter.start()
        bare_lat = asyncio.run(bare_load(bare_url, a.clients, bare_seconds // 2, a.think))
        bare_cpu = bare_meter.stop()
        stats = Stats()
        roles = (["supervisor"] * 2 + ["manager"] * 2 + ["advisor"] * n_adv)[: a.clients]
        people = {
            "supervisor": world["names"]["supervisor"],
            "manager": world["names"]["manager"],
            "advisor": world["names"]["advisor"],
        }

        async def run():
            clock = {
                "in": 0,
                "people": len(roles),
                "seconds": a.seconds,
                "start": asyncio.Event(),
                "meter": meter,
            }
            await asyncio.gather(
                *(
                    user(
                        f"http://127.0.0.1:{app_port}",
                        people[r][i % len(people[r])],
                        r,
                        world,
                        stats,
                        clock,
                        a.think,
                    )
                    for i, r in enumerate(roles)
                )
            )

        meter = CpuMeter(app, a.url)
        asyncio.run(run())
        cpu = meter.stop()
        bare_meter.start()
        bare_lat += asyncio.run(bare_load(bare_url, a.clients, bare_seconds // 2, a.think))
        bare_cpu = {part: bare_cpu[part] + v for part, v in bare_meter.stop().items()}
    finally:
        for p in (app, bare):
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(20)
    total = sum(len(v) for v in stats.lat.values())
    print(
        f"\n{len(roles)} clients for {a.seconds} s on {make_url(a.url).get_backend_name()} with {a.open_tasks} open tasks,"
        f" {a.workers} workers ({'uvicorn --workers, one shared socket' if a.shared_socket else 'a socket per worker'}), think time {a.think:g} s"
    )
    print(
        f"requests {total} ({total / a.seconds:.0f}/s), errors {len(stats.errors)}, "
        f"409 conflicts told {stats.conflicts}"
    )
    print(f"{'operation':<16}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for op, v in sorted(stats.lat.items()):
        print(f"{op:<16}{len(v):>7}{pct(v, 50):>9.1f}{pct(v, 95):>9.1f}{pct(v, 99):>9.1f}")
    print(
        f"{'(log in)':<16}{len(stats.logins):>7}{pct(stats.logins, 50):>9.1f}{pct(stats.logins, 95):>9.1f}"
        f"{pct(stats.logins, 99):>9.1f}   all at once, before the measured window"
    )
    print(
        f"{'bare endpoint':<16}{len(bare_lat):>7}{pct(bare_lat, 50):>9.1f}{pct(bare_lat, 95):>9.1f}{pct(bare_lat, 99):>9.1f}"
    )
    rate, bare_rate = total / a.seconds, len(bare_lat) / bare_seconds
    print(
        f"rate: app {rate:.1f}/s, bare endpoint {bare_rate:.1f}/s ({bare_seconds} s, half before and half "
        "after the app's window, same clients and pacing), "
        f"app / bare {rate / bare_rate:.3f}"
    )
    print(
        f"CPU ms per request: app {cpu['server'] * 1000 / total:.1f} (server) + "
        f"{cpu['database'] * 1000 / total:.1f} (PostgreSQL) + {cpu['client'] * 1000 / total:.1f} (load generator); "
        f"bare endpoint {bare_cpu['server'] * 1000 / len(bare_lat):.1f} (server) + "
        f"{bare_cpu['client'] * 1000 / len(bare_lat):.1f} (load generator); "
        f"database connections opened: {cpu['connections']:.0f}"
    )
    print(
        "server CPU by process over the app's window: "
        + ", ".join(f"{v:.1f} s" for v in meter.by_process if v >= 0.05)
        + f" (of {a.seconds} s; the supervisor and each of the {a.workers} workers)"
    )
    for op in ("my tasks", "survey submit"):
        if stats.lat.get(op):
            print(f"p95 {op} / p95 bare endpoint: {pct(stats.lat[op], 95) / pct(bare_lat, 95):.1f}x")
    for e in stats.errors[:10]:
        print("error:", e)
    # every survey closed with a 200 is closed exactly once
    from db import session as dbs
    from winback.audit.models import AuditEvent
    from winback.surveys.models import SurveyStatus, SurveyTask

    dbs.configure(a.url)
    with dbs.session_scope() as s:
        done = set(s.scalars(select(SurveyTask.id).where(SurveyTask.status == SurveyStatus.done)))
        per_task = dict(
            s.execute(
                select(AuditEvent.entity_id, func.count())
                .where(AuditEvent.action == "task.closed")
                .group_by(AuditEvent.entity_id)
            ).all()
        )
    closed = stats.closed
    assert len(closed) == len(set(closed)), "a task was closed twice with a 200"
    assert set(closed) == done, f"closed {len(closed)} vs done {len(done)}"
    assert all(per_task.get(t) == 1 for t in closed), "a close is missing or doubled in the audit trail"
    print(f"check: {len(closed)} surveys closed, each exactly once in the tasks and in the audit trail")
    from winback.audit import chain

    with dbs.session_scope() as s:
        verified = chain.verify(session=s)
    print(f"check: {verified.line()}")
    assert verified.ok, "the audit trail does not verify"
    if stats.errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
