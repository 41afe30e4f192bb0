"""Where a request's time goes: SQL statements and milliseconds per API call, in-process.

    .venv/bin/python bench/profile_requests.py --url postgresql+psycopg://postgres@127.0.0.1:5432/wb_bench
    .venv/bin/python bench/profile_requests.py --url ... --keep        # reuse the soak's data
    .venv/bin/python bench/profile_requests.py --url ... --keep --cprofile "my tasks"
    PROFILE_FILTER='(winback|api|edge)/' .venv/bin/python bench/profile_requests.py ... --cprofile "my tasks"
                                               # ... and the project's own functions alone

Prepares the same store as ``bench/soak.py`` (50,000 open tasks) unless ``--keep``, then calls
each of the soak's operations ``--n`` times through the real app (TestClient, one process, no
concurrency) and prints per operation the mean wall time and the number of SQL statements.
Unlike the soak, the figures do not depend on the other load on the machine's cores much,
so they compare code changes; "app CPU" is the CPU time of this process (the app and the test
client, not PostgreSQL) per call, the least disturbed by other load; "PG CPU" that of the whole
PostgreSQL server when it runs on this machine (its background processes included); the
statement count is exact.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import event, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class InlineClient:
    """The app called in this thread, the work FastAPI hands to its thread pool run inline,
    so that cProfile (which sees one thread) sees the whole request. For ``--cprofile`` only."""

    def __init__(self, app) -> None:
        import anyio.to_thread
        import httpx

        async def inline(func, *args, **_kw):
            return func(*args)

        anyio.to_thread.run_sync = inline
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Origin": "http://testserver"},
        )

    def request(self, method: str, url: str, **kw):
        return self._loop.run_until_complete(self._client.request(method, url, **kw))

    def get(self, url: str, **kw):
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw):
        return self.request("POST", url, **kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--keep", action="store_true", help="reuse the data of an earlier run")
    ap.add_argument("--open-tasks", type=int, default=50000)
    ap.add_argument("--n", type=int, default=40, help="calls per operation")
    ap.add_argument("--cprofile", metavar="OPERATION", help="print the top functions of one operation")
    ap.add_argument(
        "--sql", metavar="OPERATION", help="print the SQL statements of one call of one operation"
    )
    ap.add_argument(
        "--inline",
        action="store_true",
        help="call the app in this thread (no test client thread, no thread pool): the app's own CPU",
    )
    a = ap.parse_args()

    from bench.soak import PASSWORD, postgres_cpu, prepare
    from db import session as dbs

    if not a.keep:
        prepare(a.url, a.open_tasks, 26)
    os.environ.setdefault("WINBACK_LOGIN_MAX_FAILURES", "1000")
    engine = dbs.configure(a.url)
    from fastapi.testclient import TestClient

    from app import create_app
    from winback.accounts.models import Staff
    from winback.cycles.models import MonthlyCycle

    with dbs.session_scope() as s:
        cycle_id = s.scalar(select(MonthlyCycle.id).order_by(MonthlyCycle.id.desc()))
        advisors = list(s.scalars(select(Staff.id).where(Staff.username.like("adv%"))))

    statements = [0]

    shown: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        statements[0] += 1
        shown.append(" ".join(statement.split())[: int(os.environ.get("SQL_WIDTH", "300"))])

    app = create_app()
    clients = {}
    for name in ("adv00", "sup1", "mgr1"):
        inline = a.cprofile or a.inline
        c = InlineClient(app) if inline else TestClient(app, headers={"Origin": "http://testserver"})
        r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        clients[name] = c
    adv, sup, mgr = clients["adv00"], clients["sup1"], clients["mgr1"]
    mine = adv.get("/api/tasks/mine?limit=500").json()
    ids = iter([t["id"] for t in mine])
    open_page = sup.get(f"/api/cycles/{cycle_id}/tasks?limit=200").json()["items"]

    ops = {
        "my tasks": lambda: adv.get("/api/tasks/mine?limit=50"),
        "task page": lambda: adv.get(f"/api/tasks/{mine[random.randrange(len(mine))]['id']}"),
        "survey submit": lambda: adv.post(
            f"/api/tasks/{next(ids)}/close",
            json={"method": "phone", "contact_outcome": "reached", "reasons": ["high_price"]},
        ),
        "cycle tasks": lambda: sup.get(
            f"/api/cycles/{cycle_id}/tasks?limit=50&offset={random.randint(0, 5000)}"
        ),
        "reassign": lambda: sup.post(
            f"/api/tasks/{random.choice(open_page)['id']}/reassign",
            json={"assignee_id": random.choice(advisors)},
        ),
        "progress board": lambda: mgr.get(f"/api/cycles/{cycle_id}"),
        "targets": lambda: mgr.get(
            f"/api/cycles/{cycle_id}/targets?limit=100&offset={random.randint(0, 5000)}"
        ),
        "web my tasks": lambda: adv.get("/tasks"),
        "web task page": lambda: adv.get(f"/tasks/{mine[random.randrange(len(mine))]['id']}"),
        # the floor of an authenticated call: the person logged in, nothing else
        "me": lambda: adv.get("/api/me"),
    }
    if a.sql:
        ops[a.sql]()  # once to warm up
        shown.clear()
        ops[a.sql]()
        for i, statement in enumerate(shown, 1):
            print(f"{i:>3} {statement}")
        return
    if a.cprofile:
        fn = ops[a.cprofile]
        prof = cProfile.Profile(time.process_time)  # CPU time: waiting for the database is not ours
        prof.enable()
        for _ in range(a.n):
            fn()
        prof.disable()
        if os.environ.get("PROFILE_DUMP"):
            prof.dump_stats(os.environ["PROFILE_DUMP"])
        pstats.Stats(prof).sort_stats("cumulative").print_stats(60)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        if os.environ.get("PROFILE_FILTER"):
            pstats.Stats(prof).sort_stats("cumulative").print_stats(os.environ["PROFILE_FILTER"], 60)
        return

    def database_cpu() -> float:
        return sum(postgres_cpu(engine).values())

    print(
        f"{'operation':<16}{'n':>5}{'mean ms':>10}{'p50 ms':>9}{'app CPU ms':>12}{'PG CPU ms':>11}{'SQL/call':>10}"
    )
    for op, fn in ops.items():
        times, before, cpu, db_cpu = [], statements[0], time.process_time(), database_cpu()
        for _ in range(a.n):
            t = time.perf_counter()
            r = fn()
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code in (200, 409), f"{op}: {r.status_code} {r.text[:200]}"
        per_call = (statements[0] - before) / a.n
        cpu_ms = (time.process_time() - cpu) / a.n * 1000
        db_ms = (database_cpu() - db_cpu) / a.n * 1000
        print(
            f"{op:<16}{a.n:>5}{statistics.mean(times):>10.1f}{statistics.median(times):>9.1f}{cpu_ms:>12.1f}"
            f"{db_ms:>11.1f}{per_call:>10.1f}"
        )


if __name__ == "__main__":
    main()
