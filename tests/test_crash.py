"""Crashes: `winback cycle start` killed with SIGKILL at several points, on each database,
restarted once, leaves the same rows as a run that was never interrupted; a run whose process
is gone blocks nothing; --no-wait really runs in the background; the watcher resumes a cycle
left between stages; a killed CLI takes its Prefect server with it.

The CLI runs as a real process (``bench/crash.py`` holds the helpers and reruns the same
comparison at more points). Its Prefect server is one the test starts and announces the way
``winback serve`` does, so a command costs Prefect's floor, not a server start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bench.crash import (
    ROOT,
    WINBACK,
    cycle_start,
    differences,
    environment,
    flow_run_states,
    reset_demo,
    snapshot,
)
from flows.common import launch_key
from winback.cycles import flow_runs
from winback.cycles.models import CycleStage, FlowRunRecord, FlowRunState, MonthlyCycle

pytestmark = pytest.mark.crash

LIVE = ("scheduled", "running")


@pytest.fixture(scope="module")
def local_prefect():
    """A Prefect server for this worker's data directory, announced like `winback serve` does."""
    from flows import prefect_server

    server = prefect_server.LocalServer(ui=False).start()
    prefect_server.announce(server)
    try:
        yield server
    finally:
        server.stop()
        prefect_server.state_file().unlink(missing_ok=True)


def _wait_for(what: str, check, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _output(r: subprocess.CompletedProcess) -> str:
    return f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}"


_REFERENCE: dict[str, dict] = {}


@pytest.mark.parametrize("point", ["cleanup", "screening", "assignment"])
def test_a_cycle_start_killed_at_any_point_restarts_to_the_rows_of_an_uninterrupted_run(
    db_url, local_prefect, point
):
    from bench.crash import KILL_POINTS

    dialect = db_url.split(":")[0]
    if dialect not in _REFERENCE:  # the uninterrupted run, once per database
        reset_demo(db_url)
        reference = cycle_start(db_url)
        assert reference.returncode == 0, _output(reference)
        _REFERENCE[dialect] = snapshot(db_url)
    expected = _REFERENCE[dialect]
    assert expected["survey_tasks"] and expected["targets"]

    reset_demo(db_url)
    killed = cycle_start(db_url, kill_at=KILL_POINTS[point])
    assert killed.returncode == -9, _output(killed)
    stuck = [r for r in flow_run_states(db_url) if r[1] in LIVE]
    assert stuck, "the killed run left no record behind: nothing was tested"

    again = cycle_start(db_url)
    assert again.returncode == 0, _output(again)
    assert "already running" not in again.stdout
    assert differences(expected, snapshot(db_url)) == {}
    states = flow_run_states(db_url)
    assert not [r for r in states if r[1] in LIVE], states
    crashed = [r for r in states if r[1] == "crashed"]
    assert len(crashed) == len(stuck) and all("is gone" in (r[2] or "") for r in crashed), crashed


def test_already_running_is_said_only_of_a_live_run_and_no_wait_runs_in_the_background(db_url, local_prefect):
    reset_demo(db_url)
    import db.session

    db.session.configure(db_url)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        with db.session.session_scope() as session:
            record = flow_runs.record_flow_run(
                session=session,
                flow_name="monthly_cycle",
                launch_key=launch_key("monthly_cycle", {"month": "2026-11", "store_codes": ["S01"]}),
                state=FlowRunState.running,
            )
            record.owner_pid = sleeper.pid
            first_id = record.id
        # Its process lives: refused, with the run's id and process.
        r = cycle_start(db_url)
        assert r.returncode == 0, _output(r)
        assert f"已在运行：流程运行 #{first_id}" in r.stdout, r.stdout  # Chinese by default
        assert f"process {sleeper.pid}" in r.stdout
    finally:
        sleeper.kill()
        sleeper.wait()
    # Its process gone: not refused. --no-wait returns at once and a detached process runs it.
    r = cycle_start(db_url, "--no-wait")
    assert r.returncode == 0, _output(r)
    assert "已在运行" not in r.stdout and "log " in r.stdout, r.stdout
    with db.session.session_scope() as session:
        runs = list(session.scalars(select(FlowRunRecord).order_by(FlowRunRecord.id)))
        assert runs[0].state == FlowRunState.crashed and "is gone" in runs[0].message
        child = runs[1].owner_pid
        assert child not in (None, os.getpid(), sleeper.pid)
        second_id = runs[1].id

    def finished():
        with db.session.session_scope() as session:
            run = session.get(FlowRunRecord, second_id)
            return run.state if run.state not in (FlowRunState.scheduled, FlowRunState.running) else None

    assert _wait_for("the detached run", finished) == FlowRunState.completed
    with db.session.session_scope() as session:
        cycle = session.scalar(select(MonthlyCycle))
        assert cycle.stage == CycleStage.surveying
    _wait_for("the detached process to exit", lambda: not flow_runs.pid_alive(child), 60)


def _prefect_server_of(pid: int) -> int | None:
    """The pid of the Prefect server child of process ``pid`` (flows/prefect_server.py)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"flows.prefect_server" in args and str(pid).encode() in args:
            return int(entry.name)
    return None


def test_a_killed_cli_takes_its_prefect_server_with_it(db_url, tmp_path):
    """No `winback serve` runs for this data directory: the CLI starts its own server, and a
    kill -9 of the CLI does not leave it running (Prefect's own outlived it, 14 of 14)."""
    reset_demo(db_url)
    env = environment(db_url, WINBACK_DATA_DIR=str(tmp_path))
    cli = subprocess.Popen(
        [str(WINBACK), "cycle", "start", "--month", "2026-11", "--store", "S01"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server = _wait_for("the CLI's Prefect server", lambda: _prefect_server_of(cli.pid), 300)
    finally:
        cli.kill()
        cli.wait()
    _wait_for("the server to stop with its parent", lambda: not flow_runs.pid_alive(server), 30)


def test_sigterm_stops_a_run_cleanly(db_url, local_prefect):
    """SIGTERM (or Ctrl-C) to `winback cycle start`: it exits 130 and leaves no run "running"."""
    reset_demo(db_url)
    cli = subprocess.Popen(
        [str(WINBACK), "cycle", "start", "--month", "2026-11", "--store", "S01"],
        cwd=ROOT,
        env=environment(db_url, WINBACK_KILL_AT="screen_targets:stall"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(
            "screening to run", lambda: ("screen_targets", "running", None) in flow_run_states(db_url), 300
        )
        cli.send_signal(signal.SIGTERM)
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode in (1, 130), (cli.returncode, out, err[-2000:])  # not killed by the signal
    states = flow_run_states(db_url)
    assert not [r for r in states if r[1] in LIVE], states
    assert states[0][0] == "monthly_cycle" and states[0][1] in ("cancelled", "crashed"), states


def test_five_simultaneous_launches_in_a_fresh_process_all_run(db_url, tmp_path):
    """Five flows launched at once by a process that has no Prefect server yet: one server
    start, shared (3 of 5 failed with "Server process did not start")."""
    reset_demo(db_url)
    script = (
        "import sys, threading\n"
        "from flows.launcher import launch, quiet_prefect\n"
        "quiet_prefect()\n"
        "errors = []\n"
        "def one(i):\n"
        "    try:\n"
        "        launch('import_visits', {'drop_dir': f'{sys.argv[1]}/{i}', 'store_codes': None}, wait=True)\n"
        "    except BaseException as exc:\n"
        "        errors.append(repr(exc))\n"
        "threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(errors)\n"
        "sys.exit(1 if errors else 0)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        env=environment(db_url, WINBACK_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, _output(r)
    runs = [s for s in flow_run_states(db_url) if s[0] == "import_visits"]
    assert [s[1] for s in runs] == ["completed"] * 5, runs


@pytest.mark.flow
def test_the_watcher_resumes_a_cycle_a_crash_left_between_stages(prefect_harness, session, demo_store, staff):
    from flows.stages import archive_cleanup
    from flows.watch_deadlines import watch_deadlines
    from winback.accounts.models import Store
    from winback.actor import Actor
    from winback.cycles import service as cycles
    from winback.surveys.models import SurveyTask

    cycle, _ = cycles.start_cycle(
        session=session, store=session.get(Store, demo_store), month="2026-11", actor=Actor.system(label="t")
    )
    session.commit()
    archive_cleanup(cycle.id)  # then the monthly cycle's process died
    runner = flow_runs.record_flow_run(
        session=session,
        flow_name="cycle_for_store",
        launch_key="cycle_for_store:month=2026-11,store_id=1",
        state=FlowRunState.running,
        store_id=demo_store,
    )
    session.commit()

    # While its process lives (this one), the watcher leaves the cycle to it.
    assert watch_deadlines()["resume"] == 0
    session.expire_all()
    assert session.get(MonthlyCycle, cycle.id).stage == CycleStage.cleaned

    runner.owner_pid = _dead_pid()
    session.commit()
    assert watch_deadlines()["resume"] == 1
    session.expire_all()
    assert session.get(MonthlyCycle, cycle.id).stage == CycleStage.surveying
    assert session.scalar(select(SurveyTask.id).where(SurveyTask.cycle_id == cycle.id)) is not None
    assert session.get(FlowRunRecord, runner.id).state == FlowRunState.crashed
    assert watch_deadlines()["resume"] == 0  # nothing left to resume


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_group_of_300_stores_has_a_bounded_launch_key(session):
    """flow_runs.launch_key is varchar(200): a key listing every store failed beyond 22."""
    codes = [f"S{i:03d}" for i in range(300)]
    key = launch_key("monthly_cycle", {"month": "2026-11", "store_codes": codes})
    assert len(key) <= 200 and key.startswith("monthly_cycle:month=2026-11,store_codes=['S000'")
    assert key != launch_key("monthly_cycle", {"month": "2026-11", "store_codes": codes[:-1]})
    record = flow_runs.record_flow_run(
        session=session, flow_name="monthly_cycle", launch_key=key, state=FlowRunState.scheduled
    )
    session.commit()  # PostgreSQL refused the old key here
    assert flow_runs.live_flow_run(session=session, launch_key=key).id == record.id
    short = launch_key("monthly_cycle", {"month": "2026-11", "store_codes": ["S01"]})
    assert short == "monthly_cycle:month=2026-11,store_codes=['S01']"


def test_the_launcher_starts_exactly_the_flows_prefect_yaml_deploys():
    from flows.launcher import FLOWS, flow_function

    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    assert sorted(d.deployment for d in FLOWS.values()) == sorted(d["name"] for d in deployments)
    for name, d in FLOWS.items():
        flow = flow_function(name)
        assert flow.name == name, (d.deployment, flow.name)
        assert f"{d.module.replace('.', '/')}.py:{d.function}" in {x["entrypoint"] for x in deployments}
    for used in ("monthly_cycle", "watch_deadlines", "evaluate_cycle", "execute_plan", "import_visits"):
        assert used in FLOWS


def test_the_admins_flow_run_list_links_to_prefects_ui(client, session, monkeypatch):
    """`winback serve` sets PREFECT_UI_URL to its local server: the flow-run list links there,
    the run itself and the list of all runs (not a temporary server's, which has no UI)."""
    from tests.pages import login

    record = flow_runs.record_flow_run(
        session=session,
        flow_name="monthly_cycle",
        launch_key="monthly_cycle:month=2026-11,store_codes=None",
        state=FlowRunState.completed,
        prefect_flow_run_id="0b1c2d3e-0000-4000-8000-000000000001",
    )
    session.commit()
    monkeypatch.setenv("PREFECT_UI_URL", "http://127.0.0.1:4200")
    login(client, "admin")
    page = client.get("/cycles").text
    assert f'href="http://127.0.0.1:4200/runs/flow-run/{record.prefect_flow_run_id}"' in page
    assert 'href="http://127.0.0.1:4200/runs"' in page and "在 Prefect 界面查看全部流程运行" in page
    monkeypatch.delenv("PREFECT_UI_URL")
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4201/api")
    monkeypatch.setenv("WINBACK_PREFECT_LOCAL", "1")
    assert "127.0.0.1:4201" not in client.get("/cycles").text
