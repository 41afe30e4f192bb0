"""Benchmark: the monthly cycle through assignment at store scale, from a FRESH SQLite database.

    .venv/bin/python bench/cycle.py                         # realistic, 30k customers, SQLite
    .venv/bin/python bench/cycle.py --shape uniform
    .venv/bin/python bench/cycle.py --skip-cli              # without the CLI run (no Prefect)
    .venv/bin/python bench/cycle.py --unchecked             # identifiers never checked

Generates the archive once into a template file (no statistics gathered: as fresh as a
first import without ``ANALYZE``; phones, VINs and plates checked as winback's import checks
them, unless ``--unchecked``: an archive loaded around the import, which the first cleanup
checks whole), then times three runs, each on its own fresh copy:

1. ``winback cycle start --month 2026-11 --store S01`` as a subprocess (Prefect in-process:
   the flows, the tasks, the service functions), wall time;
2. the same four stages called as service functions in one process (cleanup, screening,
   profile analysis, assignment), each timed;
3. the bare SQL of the same stages: a phone check, one ``INSERT INTO targets SELECT`` from the
   grouped repair orders, one grouped profile query, one ``INSERT INTO survey_tasks SELECT``
   dealing the targets round-robin to the active advisors.

and prints each against the bare SQL (ratio), with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from winback.cycles import profiles
from winback.cycles import screening as cycle_screening

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = "2026-11-02"
MONTH = "2026-11"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_template(path: Path, shape: str, customers: int, as_imported: bool = True) -> dict:
    from bench import realistic, screening

    url = f"sqlite:///{path}"
    path.unlink(missing_ok=True)
    screening.reset(url)
    if shape == "realistic":
        counts = realistic.generate(url, customers, as_imported=as_imported)
    else:
        screening.generate(url, customers, int(customers * 13.3), 1)
        _uniform_advisors(url)
        counts = {"customers": customers}
    engine = create_engine(url)
    with engine.begin() as conn:
        # migrations analyse (db.migrate), but the tables were empty then: drop what they left
        has = conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar()
        if has:
            conn.execute(text("DELETE FROM sqlite_stat1"))
        counts["visits"] = conn.execute(text("SELECT count(*) FROM service_visits")).scalar()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return counts


def _uniform_advisors(url: str) -> None:
    """The uniform generator makes no staff: give its store eight advisors."""
    from datetime import UTC, datetime

    engine = create_engine(url)
    with engine.begin() as conn:
        for a in range(1, 9):
            conn.execute(
                text(
                    "INSERT INTO staff (id, store_id, username, display_name, password_hash, active, created_at)"
                    " VALUES (:i, 1, :u, :u, '!', 1, :t)"
                ),
                {"i": a, "u": f"advisor{a}", "t": datetime(2026, 11, 1, tzinfo=UTC)},
            )
            conn.execute(text("INSERT INTO staff_roles (staff_id, role) VALUES (:i, 'advisor')"), {"i": a})
    engine.dispose()


def fresh_copy(template: Path, name: str) -> Path:
    dest = template.with_name(f"{template.stem}-{name}.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, dest)
    return dest


def _cli_env(path: Path, data_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "WINBACK_DATABASE_URL": f"sqlite:///{path}",
        "WINBACK_DATA_DIR": str(data_dir),
    }
    env.pop(
        "PREFECT_API_URL", None
    )  # the embedded default: a server announced for the data dir, or in-process
    return env


# What ``cycle start`` imports, with and without Prefect (the flows and tasks import it; the
# domain modules they call do not).
IMPORTS_ALL = "import winback.cli, flows.monthly_cycle"
IMPORTS_WITHOUT_PREFECT = (
    "import winback.cli, winback.models, winback.customers.cleanup, winback.cycles.screening,"
    " winback.cycles.profiles, winback.surveys.assignment, winback.notifications.service"
)


def run_floor(path: Path, data_dir: Path, imports: str = IMPORTS_ALL) -> float:
    """A process that imports everything ``cycle start`` imports and exits: Python's start,
    the app's and Prefect's imports (a command's floor before any work); with
    ``IMPORTS_WITHOUT_PREFECT``, the same without Prefect's."""
    t0 = time.perf_counter()
    # Ended as a command that succeeds ends (winback/cli/leave.py): without the finalization.
    code = f"{imports}; import os; os._exit(0)"
    subprocess.run([sys.executable, "-c", code], check=True, env=_cli_env(path, data_dir), cwd=ROOT)
    return time.perf_counter() - t0


def run_cli(path: Path, data_dir: Path) -> float:
    env = _cli_env(path, data_dir)
    t0 = time.perf_counter()
    subprocess.run(
        [Path(sys.executable).with_name("winback"), "cycle", "start", "--month", MONTH, "--store", "S01"]
        + ["--as-of", f"{AS_OF}T09:00"],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


# What ``cycle start --store S01`` does, without Prefect: the same imports of the domain, the
# same service calls each in a session of its own (as each task has), the notifications
# delivered, and the same end (winback/cli/leave.py: no interpreter finalization).
WITHOUT_PREFECT = f"""
import os
import winback.cli
import winback.models
from db.session import session_scope
from winback import clock
from winback.accounts import service as accounts
from winback.actor import Actor
from winback.cycles import profiles, screening
from winback.cycles import service as cycles
from winback.notifications import service as notifications
from winback.surveys import service as surveys

clock.set_now("{AS_OF}T09:00")
actor = Actor.system(label="bench")
with session_scope() as s:
    store = accounts.get_store(session=s, code="S01")
    cycle_id = cycles.start_cycle(session=s, store=store, month="{MONTH}", actor=actor)[0].id
for stage in (
    cycles.clean_archive, screening.screen_targets, profiles.analyze_profiles, surveys.assign_surveys
):
    with session_scope() as s:
        stage(session=s, cycle_id=cycle_id, actor=actor)
with session_scope() as s:
    notifications.deliver_pending(session=s)
from db.session import get_engine
get_engine().dispose()
os._exit(0)
"""


def run_without_prefect(path: Path, data_dir: Path) -> float:
    """The command's work in a process of its own without Prefect (``WITHOUT_PREFECT``)."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", WITHOUT_PREFECT], check=True, env=_cli_env(path, data_dir), cwd=ROOT
    )
    return time.perf_counter() - t0


def run_services(path: Path) -> dict[str, float]:
    from sqlalchemy import event

    import db.session
    import winback.models  # noqa: F401
    from winback import clock
    from winback.accounts.models import Store
    from winback.actor import Actor
    from winback.cycles import service as cycles
    from winback.surveys import service as surveys

    db.session.configure(f"sqlite:///{path}")
    clock.set_now(f"{AS_OF}T09:00")
    actor = Actor.system(label="bench")
    out: dict[str, float] = {}
    sql_clock = {"spent": 0.0, "start": 0.0}

    @event.listens_for(db.session.get_engine(), "before_cursor_execute")
    def _before(*_a) -> None:
        sql_clock["start"] = time.perf_counter()

    @event.listens_for(db.session.get_engine(), "after_cursor_execute")
    def _after(*_a) -> None:
        sql_clock["spent"] += time.perf_counter() - sql_clock["start"]

    with db.session.session_scope() as s:
        store = s.get(Store, 1)
        cycle, _ = cycles.start_cycle(session=s, store=store, month=MONTH, actor=actor)
        for name, fn in (
            ("cleanup", lambda: cycles.clean_archive(session=s, cycle_id=cycle.id, actor=actor)),
            ("screening", lambda: cycle_screening.screen_targets(session=s, cycle_id=cycle.id, actor=actor)),
            ("profile", lambda: profiles.analyze_profiles(session=s, cycle_id=cycle.id, actor=actor)),
            ("assignment", lambda: surveys.assign_surveys(session=s, cycle_id=cycle.id, actor=actor)),
        ):
            t0, sql0 = time.perf_counter(), sql_clock["spent"]
            fn()
            s.flush()
            out[name] = time.perf_counter() - t0
            out[f"{name}:sql"] = sql_clock["spent"] - sql0
        out["targets"] = s.execute(text("SELECT count(*) FROM targets")).scalar()
        out["tasks"] = s.execute(text("SELECT count(*) FROM survey_tasks")).scalar()
    db.session.get_engine().dispose()
    return out


BARE = {
    "cleanup": [
        "UPDATE customers SET phone_valid = (length(phone) = 11 AND substr(phone, 1, 1) = '1') WHERE store_id = 1"
    ],
    "screening": [
        "INSERT INTO cycles (id, store_id, month, stage, settings, as_of, started_at)"
        " VALUES (1, 1, :month, 'started', '{}', :as_of, '2026-11-02 01:00:00.000000')",
        "INSERT INTO targets (store_id, cycle_id, customer_id, vehicle_id, band, last_visit_date,"
        " months_since_visit, in_warranty, visit_count, total_spend, profile, holdout, created_at)"
        " SELECT 1, 1, v.customer_id, v.id,"
        "  CASE WHEN t.last_visit < date(:as_of, '-12 months') THEN 'lost' ELSE 'at_risk' END,"
        "  t.last_visit, 0, v.warranty_end >= :as_of, t.n, t.spend, '{}', 0, '2026-11-02 01:00:00.000000'"
        " FROM vehicles v JOIN (SELECT vehicle_id, max(visit_date) AS last_visit, count(*) AS n,"
        "  sum(amount) AS spend FROM service_visits WHERE visit_date <= :as_of GROUP BY vehicle_id) t"
        "  ON t.vehicle_id = v.id"
        " WHERE v.store_id = 1 AND v.status = 'active' AND t.last_visit <= date(:as_of, '-6 months')",
    ],
    "profile": [
        "SELECT v.model, c.district, c.customer_type, count(*), sum(t.id IS NOT NULL)"
        " FROM vehicles v JOIN customers c ON c.id = v.customer_id"
        " LEFT JOIN targets t ON t.vehicle_id = v.id AND t.cycle_id = 1"
        " WHERE v.store_id = 1 GROUP BY 1, 2, 3"
    ],
    "assignment": [
        "INSERT INTO survey_tasks (store_id, cycle_id, target_id, customer_id, assignee_id, assigned_at,"
        " due_at, status, band, total_spend, version)"
        " SELECT 1, 1, t.id, t.customer_id, a.id, '2026-11-02 01:00:00.000000', '2026-11-09 01:00:00.000000',"
        "  'open', t.band, t.total_spend, 1"
        " FROM (SELECT id, customer_id, band, total_spend, row_number() OVER (ORDER BY id) AS k FROM targets"
        "  WHERE cycle_id = 1) t"
        " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS j FROM staff WHERE active) a"
        "  ON a.j = t.k % (SELECT count(*) FROM staff WHERE active)"
    ],
}


def run_bare(path: Path) -> dict[str, float]:
    engine = create_engine(f"sqlite:///{path}")
    out: dict[str, float] = {}
    with engine.begin() as conn:
        for stage, statements in BARE.items():
            t0 = time.perf_counter()
            for sql in statements:
                result = conn.execute(text(sql), {"month": MONTH, "as_of": AS_OF})
                if result.returns_rows:
                    result.all()
            out[stage] = time.perf_counter() - t0
        out["targets"] = conn.execute(text("SELECT count(*) FROM targets")).scalar()
        out["tasks"] = conn.execute(text("SELECT count(*) FROM survey_tasks")).scalar()
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=("realistic", "uniform"), default="realistic")
    ap.add_argument("--customers", type=int, default=30_000)
    ap.add_argument("--dir", default="/tmp/winback-bench-cycle", help="where the database files go")
    ap.add_argument("--keep", action="store_true", help="reuse the template generated before")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--runs", type=int, default=5, help="runs against the running server (the median counts)")
    ap.add_argument(
        "--unchecked",
        action="store_true",
        help="an archive loaded around winback's import: no phone, VIN or plate checked yet"
        " (the default is the archive as the import leaves it, identifiers checked)",
    )
    a = ap.parse_args()
    work = Path(a.dir)
    work.mkdir(parents=True, exist_ok=True)
    template = work / f"{a.shape}{'-unchecked' if a.unchecked else ''}.db"
    if not (a.keep and template.exists()):
        t0 = time.perf_counter()
        counts = make_template(template, a.shape, a.customers, as_imported=not a.unchecked)
        print(f"{a.shape}: {counts} generated in {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"load average before: {_load()}", flush=True)
    bare = run_bare(fresh_copy(template, "bare"))
    services = run_services(fresh_copy(template, "services"))
    cli = warm = floor = app_floor = None
    if not a.skip_cli:
        data_dir = work / "data"
        cli = run_cli(fresh_copy(template, "cli"), data_dir)
        warm, floor, app_floor = run_cli_with_server(fresh_copy(template, "cli"), data_dir, a.runs)
    print(f"load average after: {_load()}")
    stages = ("cleanup", "screening", "profile", "assignment")
    print(
        f"{'stage':12} {'bare SQL s':>10} {'services s':>10} {'  of it SQL':>11} {'  Python':>8} {'ratio':>6}"
    )
    for st in stages:
        sql = services[f"{st}:sql"]
        print(
            f"{st:12} {bare[st]:>10.2f} {services[st]:>10.2f} {sql:>11.2f} {services[st] - sql:>8.2f}"
            f" {services[st] / max(bare[st], 1e-6):>6.1f}"
        )
    b, sv = sum(bare[s] for s in stages), sum(services[s] for s in stages)
    sql = sum(services[f"{s}:sql"] for s in stages)
    print(f"{'total':12} {b:>10.2f} {sv:>10.2f} {sql:>11.2f} {sv - sql:>8.2f} {sv / b:>6.1f}")
    print(
        f"targets: bare {bare['targets']}, services {services['targets']}; tasks: bare {bare['tasks']}, services {services['tasks']}"
    )
    if cli is not None:
        print(
            f"winback cycle start, Prefect in-process (a temporary server per command): {cli:.1f} s = {cli / b:.1f}x bare SQL"
        )
        rest = warm - sv - floor
        prefect_import = floor - app_floor
        print(
            f"winback cycle start, a Prefect server running for the data directory: median {warm:.1f} s = {warm / b:.1f}x bare SQL"
            f" = imports and start {floor:.1f} s (of it Prefect's imports {prefect_import:.1f} s)"
            f" + services {sv:.1f} s + Prefect's runs {rest:.1f} s"
            f" (Prefect's runs {100 * rest / warm:.0f} % of the wall time;"
            f" with its imports {100 * (rest + prefect_import) / warm:.0f} %)"
        )


def run_cli_with_server(path: Path, data_dir: Path, runs: int = 5) -> tuple[float, float, float]:
    """``cycle start`` while a Prefect server is announced for the data directory, as
    ``winback serve`` leaves it; the import floor of the same process, and that floor without
    Prefect's imports."""
    os.environ["WINBACK_DATA_DIR"] = str(data_dir)
    from flows import prefect_server
    from winback.config import get_settings

    # The services run above read the settings, with the default data directory, and they are
    # kept: without this the server was announced where the commands do not look, and each
    # command started a temporary server of its own (what the earlier figures measured).
    get_settings.cache_clear()
    server = prefect_server.LocalServer(ui=False).start()
    prefect_server.announce(server)
    if not (data_dir / "prefect-server.json").exists():
        raise SystemExit(f"the server was not announced in {data_dir}")
    try:
        run_cli(fresh_copy(path, "warmup"), data_dir)  # the server's first runs create its tables
        floor = min(run_floor(path, data_dir) for _ in range(2))
        app_floor = min(run_floor(path, data_dir, IMPORTS_WITHOUT_PREFECT) for _ in range(2))
        # Several runs, each on a fresh copy: one run's wall time swings by a second or more
        # on this machine, so each command is paired with the same work without Prefect, run
        # right after it: Prefect's share is read from the pairs, not from figures taken
        # minutes apart.
        walls, bare_walls = [], []
        for i in range(runs):
            walls.append(run_cli(fresh_copy(path, f"cli-{i}"), data_dir))
            bare_walls.append(run_without_prefect(fresh_copy(path, f"plain-{i}"), data_dir))
        print("cycle start against the running server, each run: " + ", ".join(f"{w:.2f} s" for w in walls))
        print(
            "the same work without Prefect, each run:          " + ", ".join(f"{w:.2f} s" for w in bare_walls)
        )
        shares = sorted(1 - b / w for w, b in zip(walls, bare_walls))
        print(
            "Prefect's share of each pair (imports, its server's calls, flow and task runs): "
            + ", ".join(f"{100 * x:.0f} %" for x in shares)
            + f"; median {100 * statistics.median(shares):.0f} %"
        )
        return statistics.median(walls), floor, app_floor
    finally:
        server.stop()


if __name__ == "__main__":
    main()
