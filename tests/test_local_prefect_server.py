"""The local Prefect server (``flows/prefect_server.py``): its SQLite transactions wait their
turn instead of failing, and the task runs it records in batches all arrive.

Prefect begins its server's transactions deferred: one that reads and then writes, while
another connection wrote in between, fails at once with "database is locked" (a 503, and the
flow's client sleeps two seconds before trying again). ``flows.prefect_server`` has the
server begin them immediate. The race is played on Prefect's own SQLite configuration, in a
process of its own (the change is made to a Prefect class), once as Prefect has it and once
as our server runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RACE = textwrap.dedent(
    """
    import asyncio, sys
    import sqlalchemy as sa
    from prefect.server.database.configurations import AioSqliteConfiguration

    if sys.argv[2] == "ours":
        from flows.prefect_server import _sqlite_writes_wait_their_turn
        _sqlite_writes_wait_their_turn()

    async def main():
        config = AioSqliteConfiguration(connection_url=f"sqlite+aiosqlite:///{sys.argv[1]}")
        engine = await config.engine()
        async with engine.begin() as c:
            await c.execute(sa.text("CREATE TABLE runs (name TEXT)"))
        first, second = await config.session(engine), await config.session(engine)

        async def other_writer():
            async with config.begin_transaction(second):
                await second.execute(sa.text("INSERT INTO runs VALUES ('other')"))

        try:
            async with config.begin_transaction(first):
                await first.execute(sa.text("SELECT count(*) FROM runs"))  # reads first
                other = asyncio.create_task(other_writer())
                await asyncio.sleep(0.3)  # the other writer commits now, or waits its turn
                await first.execute(sa.text("INSERT INTO runs VALUES ('first')"))
            await other
        except sa.exc.OperationalError as e:
            print("failed:", e.orig)
            return
        async with engine.connect() as c:
            rows = (await c.execute(sa.text("SELECT name FROM runs ORDER BY rowid"))).scalars()
            print("written:", ",".join(rows))
        await engine.dispose()

    asyncio.run(main())
    """
)


def _race(tmp_path: Path, mode: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", RACE, str(tmp_path / f"{mode}.db"), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_a_read_then_write_transaction_fails_as_prefect_begins_it(tmp_path):
    assert _race(tmp_path, "prefect") == "failed: database is locked"


def test_our_server_has_it_wait_for_the_other_writer(tmp_path):
    # The first transaction holds the write lock from its start: the other writer waits for
    # its commit and then writes, and neither fails.
    assert _race(tmp_path, "ours") == "written: first,other"


RECORDED = textwrap.dedent(
    """
    import os, sys, time
    os.environ["WINBACK_DATA_DIR"] = sys.argv[1]
    from flows import prefect_server
    prefect_server.ensure_api()  # a temporary local server, as a command starts one
    from prefect import flow, task, get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    @task
    def step(n):
        return n

    @flow
    def three_steps():
        from prefect.runtime import flow_run
        for n in range(3):
            step(n)
        return flow_run.get_id()

    run_id = three_steps()
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 30
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
            done = [r for r in runs if r.state_type and r.state_type.value == "COMPLETED"]
            if len(done) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    print("recorded:", len(done), "of", len(runs), "task runs completed")
    os._exit(0)
    """
)


def test_every_task_run_reaches_the_server_though_it_records_them_in_batches(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_URL")}
    env.pop("WINBACK_PREFECT_LOCAL", None)
    out = subprocess.run(
        [sys.executable, "-c", RECORDED, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "recorded: 3 of 3 task runs completed"
