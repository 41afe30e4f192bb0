"""Benchmark: one pass of the daily deadline watcher (``winback watch``) on the demo, SQLite.

    .venv/bin/python bench/watch.py              # 3 runs of each
    .venv/bin/python bench/watch.py --runs 5

Loads the demo once (``winback demo --no-serve``) into a template, then times ``winback
watch`` as a subprocess, each run on a fresh copy of the template:

1. with no Prefect server running (the command starts a temporary one: in-process mode);
2. against a Prefect server started once and announced for the data directory, as ``winback
   serve`` leaves it (what a dealership runs);

each for a quiet day (nothing due: the pass looks and finds nothing) and for the day the
survey week has ended (the pass tallies the reasons and drafts the plan: two stage flows).
The baseline is the command's floor: a process that imports what ``watch`` imports and
exits. Prints each run, the medians and their ratio to the floor, with the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cycle import fresh_copy  # noqa: E402  (the template copied with its -wal and -shm gone)

DEMO_DAY = "2026-11-02T09:00"  # the demo's business time (winback demo's default)
WEEK_LATER = "2026-11-10T09:00"  # the survey deadline has passed: tally and plan are due
BIN = Path(sys.executable).with_name("winback")


def _env(db: Path, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "WINBACK_DATABASE_URL": f"sqlite:///{db}", "WINBACK_DATA_DIR": str(data_dir)}
    env.pop("PREFECT_API_URL", None)  # the embedded default: an announced server, or in-process
    return env


def _timed(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def make_template(work: Path, data_dir: Path) -> Path:
    template = work / "demo-template.db"
    template.unlink(missing_ok=True)
    _timed([str(BIN), "demo", "--no-serve", "--as-of", DEMO_DAY], _env(template, data_dir))
    with sqlite3.connect(template) as conn:  # all of it in the file the runs copy
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return template


def watch_runs(template: Path, data_dir: Path, as_of: str, runs: int, label: str) -> list[float]:
    walls = [
        _timed([str(BIN), "watch", "--as-of", as_of], _env(fresh_copy(template, f"{label}-{i}"), data_dir))
        for i in range(runs)
    ]
    print(f"{label:34} " + ", ".join(f"{w:.2f}" for w in walls) + " s", flush=True)
    return walls


def floor(template: Path, data_dir: Path) -> float:
    code = "import winback.cli, flows.watch_deadlines; import os; os._exit(0)"
    return min(_timed([sys.executable, "-c", code], _env(template, data_dir)) for _ in range(3))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/winback-bench-watch")
    a = ap.parse_args()
    work = Path(a.dir)
    shutil.rmtree(work, ignore_errors=True)
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    os.environ["WINBACK_DATA_DIR"] = str(data_dir)
    template = make_template(work, data_dir)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    base = floor(template, data_dir)
    print(f"{'floor (imports, then exit)':34} {base:.2f} s")
    medians = {}
    for day, as_of in (("quiet day", DEMO_DAY), ("survey week over", WEEK_LATER)):
        medians[("in-process", day)] = statistics.median(
            watch_runs(template, data_dir, as_of, a.runs, f"in-process, {day}")
        )
    from flows import prefect_server

    server = prefect_server.LocalServer(ui=False).start()
    prefect_server.announce(server)
    try:
        watch_runs(template, data_dir, DEMO_DAY, 1, "warm-up (the server's first runs)")
        for day, as_of in (("quiet day", DEMO_DAY), ("survey week over", WEEK_LATER)):
            medians[("server running", day)] = statistics.median(
                watch_runs(template, data_dir, as_of, a.runs, f"server running, {day}")
            )
    finally:
        server.stop()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for (mode, day), m in medians.items():
        print(f"median {mode:15} {day:17} {m:6.2f} s = floor + {m - base:5.2f} s ({m / base:.1f}x the floor)")


if __name__ == "__main__":
    main()
