"""Production mode, for real: a Prefect server on 127.0.0.1 with its database on PostgreSQL,
`prefect deploy` of the repo's prefect.yaml, a process worker, and the web app with
PREFECT_API_URL set. A cycle started from the web UI runs on the worker; the tasks appear.

Runs on PostgreSQL when WINBACK_TEST_POSTGRES_URL is set (CI), else on SQLite; every process
it starts is stopped afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get("WINBACK_TEST_POSTGRES_URL", "").strip()

pytestmark = pytest.mark.deployment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fresh_database(name: str) -> str:
    base = make_url(POSTGRES_URL)
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_database(name: str) -> None:
    admin = create_engine(make_url(POSTGRES_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wait(what: str, check, timeout: float, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"{what}: a process exited early with {p.returncode}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack(tmp_path, request):
    """Prefect server + worker + winback web app, all on loopback; yields the app's base URL.
    Parametrized indirectly, the worker's flow runs get these environment variables too."""
    # unique per run: parallel checkouts share the PostgreSQL server
    worker_id = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    if POSTGRES_URL:  # as a dealer group runs it (CI sets this)
        prefect_db = make_url(_fresh_database(f"prefect_{worker_id}")).set(drivername="postgresql+asyncpg")
        prefect_db = prefect_db.render_as_string(hide_password=False)
        app_db = _fresh_database(f"winback_deploy_{worker_id}")
    else:  # a machine without PostgreSQL still proves the deployment path, on SQLite
        prefect_db = f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"
        app_db = f"sqlite:///{tmp_path / 'winback.db'}"
    prefect_port, app_port = _free_port(), _free_port()
    api_url = f"http://127.0.0.1:{prefect_port}/api"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "WINBACK_")) and k not in ("PYTEST_CURRENT_TEST",)
    }
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_API_DATABASE_CONNECTION_URL=prefect_db,
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
        WINBACK_HOME=str(ROOT),
        WINBACK_DATABASE_URL=app_db,
        WINBACK_DATA_DIR=str(tmp_path / "data"),
        WINBACK_NOW="2026-11-02T09:00",
        # the checkout's virtual environment first for the commands run below (the worker gets
        # a PATH without it)
        PATH=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
    )
    client_env = {**env, "PREFECT_API_URL": api_url}
    procs: list[subprocess.Popen] = []
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, args: list[str], environ: dict) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "w")
        p = subprocess.Popen(
            args, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        procs.append(p)
        return p

    def run(args: list[str]) -> None:
        result = subprocess.run(args, cwd=ROOT, env=client_env, capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"

    try:
        server = start(
            "server",
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
            env,
        )
        _wait(
            "the Prefect server",
            lambda: httpx.get(f"{api_url}/health", timeout=2).status_code == 200,
            120,
            [server],
        )
        run([str(BIN / "prefect"), "work-pool", "create", "winback", "--type", "process"])
        run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"])
        run([str(BIN / "winback"), "db", "upgrade"])
        run(
            [
                sys.executable,
                "-c",
                "from db.session import session_scope\nfrom winback.demo import load_demo\n"
                "with session_scope() as s: load_demo(session=s)",
            ]
        )
        # `winback worker` puts its own environment's python first on PATH for the flow runs
        # (prefect.yaml starts them as `python -m prefect.engine`): not on the PATH it is given.
        outside_path = os.pathsep.join(
            p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) != BIN
        )
        worker = start(
            "worker",
            [str(BIN / "winback"), "worker", "--pool", "winback", "--limit", "8"],
            {**client_env, "PATH": outside_path, **getattr(request, "param", {})},
        )
        app = start("app", [str(BIN / "winback"), "serve", "--port", str(app_port)], client_env)
        base = f"http://127.0.0.1:{app_port}"
        _wait(
            "the web app", lambda: httpx.get(f"{base}/login", timeout=2).status_code == 200, 60, [app, worker]
        )
        yield base, app_db, logs, api_url
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        if POSTGRES_URL:
            _drop_database(f"prefect_{worker_id}")
            _drop_database(f"winback_deploy_{worker_id}")


def test_a_cycle_started_in_the_web_ui_runs_on_a_worker(stack):
    base, app_db, logs, api_url = stack
    with httpx.Client(base_url=base, headers={"Origin": base}, follow_redirects=False, timeout=30) as web:
        r = web.post("/login", data={"username": "admin", "password": "winback-demo"})
        assert r.status_code == 303
        r = web.post("/cycles", data={"month": "2026-11"})
        assert r.status_code == 303

        stages = ("archive_cleanup", "screen_targets", "analyze_profiles", "assign_surveys")

        def cycle_done() -> bool:
            r = web.get("/api/cycles")
            assert r.status_code == 200, (
                f"{r.status_code} {r.text[:300]}\n" + (logs / "app.log").read_text()[-3000:]
            )
            cycles = r.json()
            if not cycles or cycles[0]["stage"] != "surveying":
                return False
            # the stage moves inside the last task; the run's own state is recorded a moment later
            runs = {
                x["flow"]: x["state"] for x in web.get(f"/api/cycles/{cycles[0]['id']}").json()["flow_runs"]
            }
            return all(runs.get(f) == "completed" for f in stages)

        try:
            _wait("the cycle to reach the survey stage on the worker", cycle_done, 180)
        except AssertionError:
            raise AssertionError((logs / "worker.log").read_text()[-4000:]) from None
        cycle = web.get("/api/cycles").json()[0]
        detail = web.get(f"/api/cycles/{cycle['id']}").json()
        tasks = web.get(f"/api/cycles/{cycle['id']}/tasks").json()
        assert tasks["total"] > 10
        runs = {r["flow"]: r for r in detail["flow_runs"]}
        for flow in stages:
            assert runs[flow]["state"] == "completed" and runs[flow]["prefect_flow_run_id"]
        # the page links the stages to their flow runs, with the Prefect ids
        page = web.get(f"/cycles/{cycle['id']}").text
        assert runs["assign_surveys"]["prefect_flow_run_id"] in page
        # ... linked to the Prefect UI, where the run's logs are
        assert f'/runs/flow-run/{runs["assign_surveys"]["prefect_flow_run_id"]}"' in page
    # the parent run was created through run_deployment (the launcher's record has its id),
    # and the store's cycle was a run of its own deployment, on whichever worker was free (not
    # run inside the month's run: monthly_cycle tells the two apart by its run's deployment)
    engine = create_engine(app_db)
    with engine.connect() as conn:
        parent, store_runs = (
            conn.execute(
                text("select state, prefect_flow_run_id from flow_runs where flow_name = :flow"), {"flow": f}
            ).all()
            for f in ("monthly_cycle", "cycle_for_store")
        )
    engine.dispose()
    assert len(parent) == 1 and parent[0][1]
    assert len(store_runs) == 1
    run = httpx.get(f"{api_url}/flow_runs/{store_runs[0][1]}", timeout=10).json()
    assert run["deployment_id"], run


@pytest.mark.parametrize("stack", [{"WINBACK_KILL_AT": "screen_targets:start"}], indirect=True)
def test_the_months_run_names_the_store_whose_run_died(stack):
    """A store's run killed on its worker (kill -9 as it starts screening): the month's run,
    which waits for every store's run at once, fails and says which store and how."""
    base, app_db, _logs, _api_url = stack
    with httpx.Client(base_url=base, headers={"Origin": base}, follow_redirects=False, timeout=30) as web:
        assert web.post("/login", data={"username": "admin", "password": "winback-demo"}).status_code == 303
        assert web.post("/cycles", data={"month": "2026-11"}).status_code == 303
    engine = create_engine(app_db)

    def month_run() -> tuple | None:
        with engine.connect() as conn:
            return conn.execute(
                text("select state, message from flow_runs where flow_name = 'monthly_cycle'")
            ).first()

    try:
        _wait("the month's run to fail", lambda: (month_run() or ("",))[0] == "failed", 180)
        _state, message = month_run()
        with engine.connect() as conn:
            store_id = conn.execute(text("select id from stores")).scalar_one()
    finally:
        engine.dispose()
    assert f"store {store_id} (Crashed)" in message, message
