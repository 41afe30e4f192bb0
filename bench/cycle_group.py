"""Benchmark: the monthly cycle through assignment for a dealer group on PostgreSQL.

    .venv/bin/python bench/care.py --url postgresql+psycopg://postgres@127.0.0.1:5432/wb_care_group \\
        --cars 1000000 --stores 30                                   # the group's archive, once
    .venv/bin/python bench/cycle_group.py --server postgresql+psycopg://postgres@127.0.0.1:5432 \\
        --template wb_care_group

Takes a generated group archive (``bench/care.py --stores N``: stores, advisors, customers,
vehicles, repair orders) as a template database and, each on its own copy
(``CREATE DATABASE ... TEMPLATE``), times:

1. the bare SQL of the four stages, store by store: a phone check (``UPDATE``), one
   ``INSERT INTO targets SELECT`` from the repair orders grouped per vehicle, one grouped
   profile query, one ``INSERT INTO survey_tasks SELECT`` dealing the targets round-robin;
2. ``winback cycle start --month 2026-11`` for every store as a subprocess (Prefect in-process,
   the stores one after another), its wall time and peak memory (max RSS);
3. with ``--workers N``: the same command against a Prefect server (its own database on the same
   PostgreSQL server) with prefect.yaml deployed and N process workers (``--limit`` runs each),
   as a dealer group runs it: the month's run on one worker, one run per store on whichever
   worker is free; wall time, the peak memory (VmHWM) of the workers and of each run's
   process, and the CPU seconds the server, the workers, the runs, the command and the
   machine's PostgreSQL processes used meanwhile (where two cores' time goes).
   ``--skip-bare`` / ``--skip-in-process`` leave out the first two.

Statistics are gathered on the template first (``ANALYZE``), as the import leaves them; the
generator writes the phones, VINs and check digits checked and marked, as the import does too
(the first cleanup checks only what changed since).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from flows.prefect_server import RECORDER_BATCHES

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-02"
MONTH = "2026-11"

BARE = {
    "cleanup": [
        "UPDATE customers SET phone_valid = (length(phone) = 11 AND substr(phone, 1, 1) = '1')"
        " WHERE store_id = :store"
    ],
    "screening": [
        "INSERT INTO cycles (id, store_id, month, stage, settings, as_of, started_at)"
        " VALUES (:store, :store, :month, 'started', '{}', :as_of, now())",
        "INSERT INTO targets (store_id, cycle_id, customer_id, vehicle_id, band, last_visit_date,"
        " months_since_visit, in_warranty, visit_count, total_spend, profile, holdout, created_at)"
        " SELECT :store, :store, v.customer_id, v.id,"
        "  CASE WHEN t.last_visit < CAST(:as_of AS date) - interval '12 months' THEN 'lost' ELSE 'at_risk' END,"
        "  t.last_visit, 0, coalesce(v.warranty_end >= CAST(:as_of AS date), false), t.n, t.spend, '{}', false, now()"
        " FROM vehicles v JOIN (SELECT s.vehicle_id, max(s.visit_date) AS last_visit, count(*) AS n,"
        "  sum(s.amount) AS spend FROM vehicles vv JOIN service_visits s ON s.vehicle_id = vv.id"
        "  WHERE vv.store_id = :store AND s.visit_date <= CAST(:as_of AS date) GROUP BY s.vehicle_id) t"
        "  ON t.vehicle_id = v.id"
        " WHERE v.store_id = :store AND v.status = 'active'"
        "  AND t.last_visit <= CAST(:as_of AS date) - interval '6 months'",
    ],
    "profile": [
        "SELECT v.model, c.district, c.customer_type, count(*), count(t.id)"
        " FROM vehicles v JOIN customers c ON c.id = v.customer_id"
        " LEFT JOIN targets t ON t.vehicle_id = v.id AND t.cycle_id = :store"
        " WHERE v.store_id = :store GROUP BY 1, 2, 3"
    ],
    "assignment": [
        "INSERT INTO survey_tasks (store_id, cycle_id, target_id, customer_id, assignee_id, assigned_at,"
        " due_at, status, band, total_spend, version)"
        " SELECT :store, :store, t.id, t.customer_id, a.id, now(), now() + interval '7 days',"
        "  'open', t.band, t.total_spend, 1"
        " FROM (SELECT id, customer_id, band, total_spend, row_number() OVER (ORDER BY id) AS k FROM targets"
        "  WHERE cycle_id = :store) t"
        " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS j FROM staff WHERE active AND store_id = :store) a"
        "  ON a.j = t.k % (SELECT count(*) FROM staff WHERE active AND store_id = :store)"
    ],
}


def copy_of(server: str, template: str, name: str) -> str:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (:a, :b)"),
            {"a": name, "b": template},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    return f"{server}/{name}"


def run_bare(url: str) -> tuple[dict[str, float], int, int]:
    engine = create_engine(url)
    out = dict.fromkeys(BARE, 0.0)
    with engine.connect() as conn:
        stores = [r[0] for r in conn.execute(text("SELECT id FROM stores ORDER BY id"))]
    for store in stores:
        with engine.begin() as conn:
            for stage, statements in BARE.items():
                t0 = time.perf_counter()
                for sql in statements:
                    result = conn.execute(text(sql), {"store": store, "month": MONTH, "as_of": AS_OF})
                    if result.returns_rows:
                        result.all()
                out[stage] += time.perf_counter() - t0
    with engine.connect() as conn:
        targets = conn.execute(text("SELECT count(*) FROM targets")).scalar()
        tasks = conn.execute(text("SELECT count(*) FROM survey_tasks")).scalar()
    engine.dispose()
    return out, targets, tasks


def run_cli(url: str, data_dir: Path) -> tuple[float, float, int, int]:
    env = {**os.environ, "WINBACK_DATABASE_URL": url, "WINBACK_DATA_DIR": str(data_dir)}
    env.pop("PREFECT_API_URL", None)
    t0 = time.perf_counter()
    subprocess.run(
        [Path(sys.executable).with_name("winback"), "cycle", "start", "--month", MONTH]
        + ["--as-of", f"{AS_OF}T09:00"],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    engine = create_engine(url)
    with engine.connect() as conn:
        targets = conn.execute(text("SELECT count(*) FROM targets")).scalar()
        tasks = conn.execute(text("SELECT count(*) FROM survey_tasks")).scalar()
    engine.dispose()
    return wall, peak, targets, tasks


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _peaks(
    roots: dict[int, str],
    seen: dict[int, tuple[str, int]],
    cpu: dict[int, tuple[str, float]],
    stop: threading.Event,
) -> None:
    """``_look`` every half second until ``stop``."""
    while not stop.is_set():
        _look(roots, seen, cpu)
        stop.wait(0.5)


def _look(roots: dict[int, str], seen: dict[int, tuple[str, int]], cpu: dict[int, tuple[str, float]]) -> None:
    """Each process under ``roots`` (pid -> kind: the server, the workers,
    the command) and the processes they start (a worker's are "run"), its peak resident memory
    (VmHWM, kB) by pid, and the CPU seconds each process and PostgreSQL's own processes have
    used so far (a process that ends between two looks loses its last half second)."""
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                name, rest = stat.split(" (", 1)[1].rsplit(")", 1)
                fields = rest.split()
                parents[int(entry)] = int(fields[1])
                stats[int(entry)] = [name, *fields]
            except (OSError, ValueError, IndexError):
                pass
    for pid, fields in stats.items():
        used = (int(fields[12]) + int(fields[13])) / CLOCK_TICKS  # utime + stime
        up = pid
        while up in parents and up not in roots:
            up = parents[up]
        if up not in roots:
            if fields[0] == "postgres":  # a backend's title names its database
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    title = ""
                cpu[pid] = ("postgres, Prefect's database" if "prefect" in title else "postgres", used)
            continue
        kind = roots[pid] if pid in roots else ("run" if roots[up] == "worker" else roots[up])
        cpu[pid] = (kind, used)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), 0)
        if hwm > seen.get(pid, ("", 0))[1]:
            seen[pid] = (kind, hwm)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_workers(url: str, server: str, data_dir: Path, workers: int, limit: int) -> dict:
    """``winback cycle start`` against a Prefect server with ``workers`` process workers."""
    import httpx

    prefect_db = copy_of(server, "template0", "wb_cycle_prefect").replace("+psycopg", "+asyncpg")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    bin_dir = Path(sys.executable).parent
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "WINBACK_"))}
    base.update(
        PREFECT_HOME=str(data_dir / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_API_DATABASE_CONNECTION_URL=prefect_db,
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        WINBACK_HOME=str(ROOT),
        WINBACK_DATABASE_URL=url,
        WINBACK_DATA_DIR=str(data_dir),
    )
    # as deployments/server.env recommends: task runs' states recorded in batches
    base.update(RECORDER_BATCHES)
    client = {**base, "PREFECT_API_URL": api}
    procs: list[subprocess.Popen] = []
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    def start(name: str, args: list[str], env: dict) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115 (the process writes it until stopped)
        procs.append(
            subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
        return procs[-1]

    seen: dict[int, tuple[str, int]] = {}
    cpu: dict[int, tuple[str, float]] = {}
    stop = threading.Event()
    try:
        start(
            "server",
            [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            base,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the Prefect server did not start")
            time.sleep(0.5)
        for args in (
            ["work-pool", "create", "winback", "--type", "process"],
            ["--no-prompt", "deploy", "--all"],
        ):
            subprocess.run(
                [str(bin_dir / "prefect"), *args], cwd=ROOT, env=client, check=True, capture_output=True
            )
        roots = {procs[0].pid: "server"}
        for i in range(workers):
            worker = start(
                f"worker{i}",
                [str(bin_dir / "winback"), "worker", "--pool", "winback", "--limit", str(limit)],
                client,
            )
            roots[worker.pid] = "worker"
        time.sleep(3)  # the workers poll the pool
        # CPU counted from here: what the server, workers and PostgreSQL used before is not the command's
        before: dict[int, tuple[str, float]] = {}
        _look(roots, {}, before)
        t0 = time.perf_counter()
        command = subprocess.Popen(
            [str(bin_dir / "winback"), "cycle", "start", "--month", MONTH, "--as-of", f"{AS_OF}T09:00"],
            env=client,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        roots[command.pid] = "command"
        sampler = threading.Thread(target=_peaks, args=(roots, seen, cpu, stop), daemon=True)
        sampler.start()
        if command.wait() != 0:
            raise SystemExit(f"winback cycle start exited {command.returncode}")
        wall = time.perf_counter() - t0
        stop.set()
        sampler.join()
    finally:
        stop.set()
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    engine = create_engine(url)
    with engine.connect() as conn:
        targets = conn.execute(text("SELECT count(*) FROM targets")).scalar()
        tasks = conn.execute(text("SELECT count(*) FROM survey_tasks")).scalar()
    engine.dispose()
    runs = [kb for kind, kb in seen.values() if kind == "run"]
    cpu_by_kind: dict[str, float] = {}
    for pid, (kind, used) in cpu.items():
        cpu_by_kind[kind] = cpu_by_kind.get(kind, 0.0) + used - before.get(pid, (kind, 0.0))[1]
    return {
        "cpu": cpu_by_kind,
        "wall": wall,
        "worker_peak_mb": max((kb for kind, kb in seen.values() if kind == "worker"), default=0) / 1024,
        "run_peak_mb": max(runs, default=0) / 1024,
        "runs": len(runs),
        "targets": targets,
        "tasks": tasks,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, help="postgresql+psycopg://USER@HOST:PORT (no database)")
    ap.add_argument("--template", default="wb_care_group")
    ap.add_argument("--data-dir", default="/tmp/winback-bench-cycle-group")
    ap.add_argument("--workers", type=int, default=0, help="also run it on N process workers")
    ap.add_argument("--limit", type=int, default=2, help="flow runs at once per worker")
    ap.add_argument("--skip-bare", action="store_true")
    ap.add_argument("--skip-in-process", action="store_true")
    a = ap.parse_args()
    engine = create_engine(f"{a.server}/{a.template}", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        sizes = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("stores", "customers", "vehicles", "service_visits")
        }
    engine.dispose()
    print(f"template {a.template}: {sizes}; load average {os.getloadavg()[0]:.1f}", flush=True)
    total = float("nan")
    if not a.skip_bare:
        bare, bare_targets, bare_tasks = run_bare(copy_of(a.server, a.template, "wb_cycle_bare"))
        total = sum(bare.values())
        for stage, secs in bare.items():
            print(f"bare SQL {stage:<11} {secs:8.1f} s", flush=True)
        print(
            f"bare SQL total       {total:8.1f} s  (targets {bare_targets:,}, tasks {bare_tasks:,});"
            f" load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    Path(a.data_dir).mkdir(parents=True, exist_ok=True)
    if not a.skip_in_process:
        wall, peak, targets, tasks = run_cli(copy_of(a.server, a.template, "wb_cycle_cli"), Path(a.data_dir))
        print(
            f"winback cycle start, {sizes['stores']} stores in-process: {wall:.1f} s = {wall / total:.1f}x bare SQL;"
            f" peak memory {peak:.0f} MB; targets {targets:,}, tasks {tasks:,}; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    if a.workers:
        r = run_workers(
            copy_of(a.server, a.template, "wb_cycle_workers"),
            a.server,
            Path(a.data_dir) / "workers",
            a.workers,
            a.limit,
        )
        print(
            f"winback cycle start, {sizes['stores']} stores on {a.workers} process workers (--limit {a.limit}),"
            f" Prefect server: {r['wall']:.1f} s = {r['wall'] / total:.1f}x bare SQL; peak memory per worker"
            f" {r['worker_peak_mb']:.0f} MB, per run {r['run_peak_mb']:.0f} MB ({r['runs']} run processes);"
            f" targets {r['targets']:,}, tasks {r['tasks']:,}; load average {os.getloadavg()[0]:.1f}"
        )
        spent = ", ".join(
            f"{kind} {secs:.1f}" for kind, secs in sorted(r["cpu"].items(), key=lambda kv: -kv[1])
        )
        print(f"CPU seconds during the command ({os.cpu_count()} cores x {r['wall']:.0f} s): {spent}")


if __name__ == "__main__":
    main()
