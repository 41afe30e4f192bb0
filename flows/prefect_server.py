"""The Prefect server in-process flows talk to, on the embedded default (no PREFECT_API_URL).

* ``winback serve`` (and ``winback demo``) starts one local server for the data directory,
  with Prefect's UI, and writes where it is to ``<data dir>/prefect-server.json``; the CLI's
  commands and the web app find it there and reuse it while it runs, so a command costs
  Prefect's floor, not a server start.
* When none runs, the first in-process launch of a process starts a temporary one (no UI).

Either server is a child that dies with its parent: it polls its parent and exits when the
parent is gone, even after a kill -9 (Prefect's own temporary server outlived it). Starting it
is serialized per process: simultaneous launches on a fresh process share one start (five
parallel launches made Prefect start its server up to five times and three failed with
"Server process did not start"). Both keep Prefect's database in the data directory unless
``PREFECT_API_DATABASE_CONNECTION_URL`` says otherwise.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)

_lock = threading.Lock()
_LOCAL = "WINBACK_PREFECT_LOCAL"  # set when PREFECT_API_URL is ours, not the operator's
# The task run recorder writes what the flows report in batches (LocalServer.start; a group's
# own server: deployments/server.env, the same values; bench/cycle_group.py's server).
RECORDER_BATCHES = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}


def is_local_api() -> bool:
    """PREFECT_API_URL points at a server this module found or started (flows stay in-process)."""
    return os.environ.get(_LOCAL) == "1"


def _data_dir() -> Path:
    from winback.config import get_settings

    return get_settings().data_dir


def state_file() -> Path:
    return _data_dir() / "prefect-server.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Loopback is asked directly, whatever proxy the environment names.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(api_url: str, timeout: float = 2.0) -> bool:
    # The standard library's plain HTTP: ``httpx.get`` builds a client with a TLS context (the
    # CA bundle loaded) per call, ~0.3 s of a command's start spent polling a loopback server.
    try:
        with _DIRECT.open(f"{api_url}/health", timeout=timeout) as answer:
            return answer.status == 200
    except (OSError, ValueError):  # refused, reset, timed out, an HTTP error status
        return False


class LocalServer:
    """A Prefect server child process on 127.0.0.1."""

    def __init__(self, *, ui: bool, port: int | None = None) -> None:
        self.ui = ui
        self.port = port or _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def start(self, timeout: float = 300) -> LocalServer:
        env = dict(os.environ)
        for name in ("PREFECT_API_URL", _LOCAL):
            env.pop(name, None)
        env.setdefault(
            "PREFECT_API_DATABASE_CONNECTION_URL",
            f"sqlite+aiosqlite:///{(_data_dir() / 'prefect.db').resolve()}",
        )
        # No telemetry: there is no network to send it to, and its heartbeat wrote to Prefect's
        # SQLite database while flows did ("database is locked" on a busy machine).
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        # Task runs' states reach the server as events, which its task run recorder writes one
        # by one by default (a transaction of four statements per event, each holding SQLite's
        # write lock while the flow's own API calls wait for it). In batches, at least once a
        # second: six flow runs of no work took a fifth less time (bench/README.md).
        for name, value in RECORDER_BATCHES.items():
            env.setdefault(name, value)
        env["PREFECT_UI_ENABLED"] = "1" if self.ui else "0"
        if not self.ui:  # what Prefect's own temporary server sets: no UI, no scheduler services
            env["PREFECT__SERVER_EPHEMERAL"] = "1"
        _data_dir().mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flows.prefect_server", str(os.getpid()), str(self.port)],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Prefect server exited with {self.process.returncode}")
            if _healthy(self.api_url, timeout=1):
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Prefect server did not answer on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        p, self.process = self.process, None
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


_own: LocalServer | None = None


def point_prefect_at(api_url: str) -> None:
    """Every thread of this process (and its non-detached children) talks to this server."""
    os.environ["PREFECT_API_URL"] = api_url
    os.environ[_LOCAL] = "1"
    import prefect.context

    prefect.context.refresh_global_settings_context()


def _announced() -> dict | None:
    """What ``winback serve`` wrote about its server for this data directory, if it runs."""
    from winback.cycles.flow_runs import pid_alive

    try:
        info = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    if not (pid_alive(int(info.get("owner", 0))) and pid_alive(int(info.get("pid", 0)))):
        return None
    return info if info.get("api") and _healthy(info["api"], timeout=1) else None


def discover() -> str | None:
    """The API URL of ``winback serve``'s server for this data directory, if it answers."""
    info = _announced()
    return info["api"] if info else None


def ensure_api() -> None:
    """Before an in-process flow run: Prefect has a server to talk to (once per process)."""
    global _own
    with _lock:
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():  # the operator's server, ours, or a test harness's
            return
        api = discover()
        if api is None:
            _own = LocalServer(ui=False).start()
            api = _own.api_url
        point_prefect_at(api)


def serve_local() -> str | None:
    """``winback serve``: one server with its UI for the data directory, announced in its
    state file for the CLI's commands, stopped with the server; another ``serve``'s is reused.
    Returns the UI's address; None when an operator's PREFECT_API_URL is set."""
    global _own
    if os.environ.get("PREFECT_API_URL") and not is_local_api():
        return None
    with _lock:
        info = _announced()
        if info is None:
            _own = LocalServer(ui=True).start()
            info = announce(_own)
        point_prefect_at(info["api"])
        os.environ["PREFECT_UI_URL"] = info["ui"]  # the flow-run lists link to it (web.prefect_ui_url)
        return info["ui"]


def announce(server: LocalServer) -> dict:
    """Tell this data directory's commands where the server is (until this process exits)."""
    info = {"pid": server.process.pid, "owner": os.getpid(), "api": server.api_url, "ui": server.url}
    state = state_file()
    state.write_text(json.dumps(info))

    def forget() -> None:
        try:
            if json.loads(state.read_text()).get("owner") == os.getpid():
                state.unlink()
        except (OSError, ValueError):
            pass

    atexit.register(forget)
    return info


def child_environment() -> dict[str, str]:
    """The environment of a detached child: it outlives this process, so it must not use a
    temporary server this process owns (it finds ``serve``'s, or starts its own)."""
    env = dict(os.environ)
    if is_local_api() and _own is not None and not _own.ui:
        env.pop("PREFECT_API_URL", None)
        env.pop(_LOCAL, None)
    return env


def _sqlite_writes_wait_their_turn() -> None:
    """On SQLite, every transaction the server begins takes the write lock at its start
    (``BEGIN IMMEDIATE``), where Prefect begins most of them deferred.

    A deferred transaction that reads and then writes fails at once with "database is locked"
    when another connection wrote in between (SQLite cannot wait for a lock on a snapshot that
    is already stale, whatever ``busy_timeout`` says): Prefect's server answers 503 and its
    client sleeps two seconds before trying again. Here it was the flow run's creation,
    racing the server's own writes of the run's events, in 2 of 9 ``cycle start`` commands
    (2.3 s of a 6-second command). Taken at the start, the lock is waited for instead (the
    server's ``busy_timeout``), a few milliseconds. PostgreSQL is left as Prefect has it.
    """
    from prefect.server.database.configurations import AioSqliteConfiguration

    deferred = AioSqliteConfiguration.begin_transaction

    def begin_transaction(self, session, with_for_update: bool = False):
        return deferred(self, session, with_for_update=True)

    AioSqliteConfiguration.begin_transaction = begin_transaction


def _run(parent: int, port: int) -> None:
    """The server process: exit as soon as the parent is gone (polled every half second)."""

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    _sqlite_writes_wait_their_turn()
    import uvicorn

    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="error",
        lifespan="on",
    )


if __name__ == "__main__":
    _run(int(sys.argv[1]), int(sys.argv[2]))
