"""The crash test, rerunnable: kill `winback cycle start` with SIGKILL at N points, restart
it once, and compare every business row with an uninterrupted run.

    .venv/bin/python bench/crash.py                                   # SQLite in a temp dir
    .venv/bin/python bench/crash.py --url postgresql+psycopg://USER@HOST:5432/DB
    .venv/bin/python bench/crash.py --points cleanup,assignment --repeat 3

The database is emptied and migrated, the demo store (240 customers) loaded; one
uninterrupted run is the reference. For each point the CLI runs with ``WINBACK_KILL_AT``
(flows/faults.py: it SIGKILLs itself there), then ``winback cycle start`` once more without
it; the rows (cycles, customers, vehicles, targets, survey tasks, notifications, merge
proposals, audit actions) are compared by natural keys, ids and times aside. A Prefect server
is started and announced for the data directory, as ``winback serve`` does, so the timings
are the CLI's, not a server start's. Prints one line per run and the verdict.

tests/test_crash.py uses the same helpers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
WINBACK = Path(sys.executable).parent / "winback"
DEMO_NOW = "2026-11-02T09:00"

# Where the test and the script kill `winback cycle start` (flows/faults.py): in each stage's
# transaction before it commits, and after assignment committed with its run still "running".
KILL_POINTS = {
    "cleanup": "archive_cleanup:commit",
    "screening": "screen_targets:commit",
    "profiles": "analyze_profiles:start",
    "assignment": "assign_surveys:committed",
}


def environment(db_url: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_API_URL", "WINBACK_PREFECT_LOCAL", "WINBACK_KILL_AT", "PYTEST"))
    }
    env.update(WINBACK_DATABASE_URL=db_url, WINBACK_NOW=DEMO_NOW, **extra)
    return env


def cycle_start(db_url: str, *args: str, kill_at: str | None = None, timeout: float = 600):
    """``winback cycle start --month 2026-11 --store S01`` as a process; returns it finished."""
    env = environment(db_url, **({"WINBACK_KILL_AT": kill_at} if kill_at else {}))
    return subprocess.run(
        [str(WINBACK), "cycle", "start", "--month", "2026-11", "--store", "S01", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def reset_demo(db_url: str) -> None:
    """Empty every table (ids from 1 again) and load the demo store on the demo clock."""
    import db.session
    import winback.models  # noqa: F401
    from db.base import Base
    from winback import clock
    from winback.demo import load_demo

    engine = create_engine(db_url)
    names = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(names):
                conn.execute(text(f'DELETE FROM "{name}"'))
            if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))
    engine.dispose()
    db.session.configure(db_url)
    clock.set_now(DEMO_NOW)
    try:
        with db.session.session_scope() as session:
            load_demo(session=session)
    finally:
        clock.set_now(None)


_QUERIES = {
    "cycles": "SELECT s.code, c.month, c.stage, c.as_of, c.cleanup, c.profile, c.settings"
    " FROM cycles c JOIN stores s ON s.id = c.store_id",
    "customers": "SELECT dms_code, phone, phone_valid, do_not_call, merged_into_id FROM customers",
    "vehicles": "SELECT vin, vin_valid, vin_check_digit_ok, plate_valid, status FROM vehicles",
    "targets": "SELECT v.vin, t.band, t.last_visit_date, t.months_since_visit, t.in_warranty, t.visit_count,"
    " t.total_spend, t.holdout, t.profile, t.p_alive, t.priority"
    " FROM targets t JOIN vehicles v ON v.id = t.vehicle_id",
    "survey_tasks": "SELECT v.vin, st.username, k.status, k.due_at, k.band, k.total_spend"
    " FROM survey_tasks k JOIN targets t ON t.id = k.target_id JOIN vehicles v ON v.id = t.vehicle_id"
    " LEFT JOIN staff st ON st.id = k.assignee_id",
    "notifications": "SELECT st.username, n.kind, n.title, n.body, n.status"
    " FROM notifications n JOIN staff st ON st.id = n.recipient_id",
    "merge_proposals": "SELECT keep_id, merge_id, rule, status FROM merge_proposals",
    "audit_events": "SELECT action, entity_type, actor_label FROM audit_events",
}


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, sort_keys=True, default=str)
    return str(value) if value is not None and not isinstance(value, int | str | bool) else value


def snapshot(db_url: str) -> dict[str, Counter]:
    """The rows of a run, per table, as a multiset of natural-key tuples."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {
                name: Counter(tuple(_plain(v) for v in row) for row in conn.execute(text(sql)))
                for name, sql in _QUERIES.items()
            }
    finally:
        engine.dispose()


def differences(expected: dict[str, Counter], got: dict[str, Counter]) -> dict[str, str]:
    """Per table that differs: how many rows are missing and how many extra (with one of each)."""
    out = {}
    for name in expected:
        missing, extra = expected[name] - got[name], got[name] - expected[name]
        if missing or extra:
            out[name] = (
                f"{sum(missing.values())} missing, {sum(extra.values())} extra "
                f"(e.g. missing {next(iter(missing), None)}, extra {next(iter(extra), None)})"
            )
    return out


def flow_run_states(db_url: str) -> list[tuple[str, str, str | None]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(text("SELECT flow_name, state, message FROM flow_runs ORDER BY id"))
            ]
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="SQLAlchemy URL of a database to empty (default: SQLite in a temp dir)")
    parser.add_argument("--points", default=",".join(KILL_POINTS), help=f"of {', '.join(KILL_POINTS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per point")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="winback-crash-"))
    os.environ["WINBACK_DATA_DIR"] = str(work)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    url = args.url or f"sqlite:///{work / 'winback.db'}"
    points = [p.strip() for p in args.points.split(",") if p.strip()]
    unknown = set(points) - set(KILL_POINTS)
    if unknown:
        parser.error(f"unknown points: {', '.join(sorted(unknown))}")

    import db.migrate
    from flows import prefect_server

    if not url.startswith("sqlite"):
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    db.migrate.upgrade(url)
    load = os.getloadavg()[0]
    print(
        f"database {create_engine(url).dialect.name}, load average {load:.1f}; starting a Prefect server ...",
        flush=True,
    )
    server = prefect_server.LocalServer(ui=False).start()
    prefect_server.announce(server)
    failures = 0
    try:
        reset_demo(url)
        t = time.monotonic()
        reference = cycle_start(url)
        if reference.returncode != 0:
            print(reference.stdout, reference.stderr)
            return 1
        expected = snapshot(url)
        rows = sum(sum(c.values()) for c in expected.values())
        print(f"reference run: {time.monotonic() - t:.1f} s, {rows} rows compared", flush=True)
        print(
            f"{'point':<12} {'killed at':<26} {'exit':>5} {'left live':>9} {'restart':>8} {'crashed':>7}  rows"
        )
        for point in points:
            for _ in range(args.repeat):
                reset_demo(url)
                killed = cycle_start(url, kill_at=KILL_POINTS[point])
                live = [r for r in flow_run_states(url) if r[1] in ("scheduled", "running")]
                t = time.monotonic()
                again = cycle_start(url)
                took = time.monotonic() - t
                diff = differences(expected, snapshot(url))
                states = flow_run_states(url)
                crashed = sum(1 for r in states if r[1] == "crashed")
                still = [r for r in states if r[1] in ("scheduled", "running")]
                ok = killed.returncode == -9 and again.returncode == 0 and not diff and not still
                ok = ok and "already running" not in again.stdout
                failures += not ok
                print(
                    f"{point:<12} {KILL_POINTS[point]:<26} {killed.returncode:>5} {len(live):>9} "
                    f"{took:>7.1f}s {crashed:>7}  {diff or 'same'}"
                    + ("" if ok else f"  FAILED (restart exit {again.returncode}, live after: {len(still)})"),
                    flush=True,
                )
    finally:
        server.stop()
    runs = len(points) * args.repeat
    print(f"{runs - failures} of {runs} killed runs restarted to the reference rows")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
