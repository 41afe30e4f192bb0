"""Faults the app must survive: the database going away answers 503 with a message, and the
app recovers by itself when it returns. PostgreSQL is reached through a TCP proxy the test
controls, so "the database is down" is real network failure, not a mock."""

from __future__ import annotations

import os
import socket
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url

import db.session


class TcpProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL; ``down()`` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen(64)
        self.accepting = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.accepting:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def down(self) -> None:
        self.accepting = False
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
            self.conns.clear()

    def up(self) -> None:
        self.accepting = True

    def close(self) -> None:
        self.down()
        self.listener.close()


# SQLite is a file inside the app's process: there is no server to lose, so PostgreSQL only.
@pytest.mark.parametrize(
    "db_url",
    [pytest.param("postgres", id="postgres")] if os.environ.get("WINBACK_TEST_POSTGRES_URL") else [],
    indirect=True,
)
def test_database_down_answers_503_then_recovers(db_url, demo_store):
    from app import create_app

    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    try:
        db.session.configure(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        client = TestClient(create_app(), headers={"Origin": "http://testserver"})
        r = client.post("/api/auth/login", json={"username": "admin", "password": "winback-demo"})
        assert r.status_code == 200
        assert client.get("/api/cycles").status_code == 200

        proxy.down()
        r = client.get("/api/cycles")
        assert r.status_code == 503
        assert r.json()["code"] == "db_unavailable" and "database" in r.json()["detail"]
        page = client.get("/cycles")
        assert (
            page.status_code == 503 and "数据库暂时无法连接" in page.text
        )  # the page speaks Chinese by default

        proxy.up()
        assert client.get("/api/cycles").status_code == 200  # no restart needed
    finally:
        proxy.close()
        db.session.configure(db_url)


def test_a_worker_killed_in_the_middle_of_assign_surveys_loses_nothing(db_url, session, demo_store, tmp_path):
    """kill -9 a process in the middle of assign_surveys (tasks written, not committed), rerun:
    every target gets exactly one task, as if the first run had never started."""
    import signal
    import subprocess
    import sys

    from sqlalchemy import func, select

    from winback.accounts.models import Store
    from winback.actor import Actor
    from winback.cycles import screening
    from winback.cycles import service as cycles
    from winback.cycles.models import Target
    from winback.surveys import service as surveys
    from winback.surveys.models import SurveyTask

    actor = Actor.system(label="test")
    cycle, _ = cycles.start_cycle(
        session=session, store=session.get(Store, demo_store), month="2026-11", actor=actor
    )
    screening.screen_targets(session=session, cycle_id=cycle.id, actor=actor)
    session.commit()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"""
import sys, time
from db import session as dbs
from winback import clock
from winback.actor import Actor
from winback.surveys import service as surveys
dbs.configure({db_url!r})
clock.set_now("2026-11-02T09:00")
s = dbs.new_session()
result = surveys.assign_surveys(session=s, cycle_id={cycle.id}, actor=Actor.system(label="doomed worker"))
print("assigned", result["assigned"], flush=True)
time.sleep(600)   # killed here, before the commit
""",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    line = worker.stdout.readline()
    assert line.startswith("assigned ") and int(line.split()[1]) > 0, line
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)

    session.expire_all()
    assert session.scalar(select(func.count()).select_from(SurveyTask)) == 0  # nothing half-written
    result = surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)
    session.commit()
    eligible = session.scalar(
        select(func.count()).where(Target.cycle_id == cycle.id, Target.holdout.is_(False))
    )
    assert result["assigned"] == eligible > 0
    per_target = session.execute(
        select(SurveyTask.target_id, func.count()).group_by(SurveyTask.target_id)
    ).all()
    assert all(n == 1 for _, n in per_target) and len(per_target) == eligible
    # and a third run changes nothing
    assert surveys.assign_surveys(session=session, cycle_id=cycle.id, actor=actor)["assigned"] == 0
