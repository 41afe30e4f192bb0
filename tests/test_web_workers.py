"""`winback serve --workers N`: every worker takes a share of the connections, Ctrl-C or SIGTERM
stops them all, and a port already in use is told in one line (Linux: a socket per worker)."""

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

from winback.cli import web_workers

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path) -> dict[str, str]:
    # An operator's Prefect server is named (never contacted here), so serve starts none of its own.
    return {
        **os.environ,
        "WINBACK_DATA_DIR": str(tmp_path),
        "WINBACK_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
    }


def _workers(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(int(child))
    return out


def _established(pid: int, port: int) -> int:
    """How many TCP connections to ``port`` the process ``pid`` holds open (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] in inodes:  # 01: ESTABLISHED
            count += 1
    return count


@pytest.mark.skipif(not web_workers.balanced(), reason="SO_REUSEPORT balancing is Linux's")
def test_two_workers_share_the_connections_and_stop_together(tmp_path):
    port = _free_port()
    env = _env(tmp_path)
    subprocess.run(
        [str(BIN / "winback"), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    server = subprocess.Popen(
        [str(BIN / "winback"), "serve", "--workers", "2", "--port", str(port)],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    clients: list[socket.socket] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        workers: list[int] = []
        while True:  # both workers up: each answers on its own socket
            workers = _workers(server.pid)
            try:
                if len(workers) == 2 and httpx.get(f"{base}/login", timeout=5).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
            time.sleep(0.3)
        time.sleep(2)  # the second worker may still be starting its app
        # 24 people at once, each on a keep-alive connection of their own: all connected
        # before any is served (uvicorn's shared socket gave the whole burst to one worker)
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(24)]
        for c in clients:
            c.sendall(f"GET /login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        for c in clients:
            assert c.recv(64).startswith(b"HTTP/1.1 3")  # answered, the connection kept
        held = {pid: _established(pid, port) for pid in workers}
        assert sum(held.values()) == 24, held
        assert min(held.values()) >= 3, f"one worker took (almost) every connection: {held}"

        server.send_signal(signal.SIGTERM)
        assert server.wait(40) == 0
        for pid in workers:
            assert (
                not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            )
    finally:
        for c in clients:
            c.close()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_told_in_one_line(tmp_path, workers):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [str(BIN / "winback"), "--lang", "en", "serve", "--workers", workers, "--port", str(port)],
            env=_env(tmp_path),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 2
    assert (
        r.stderr.strip()
        == f"winback: error: port {port} is already in use; choose another with --port or PORT"
    )
    assert "Traceback" not in r.stderr


def test_the_served_app_leaves_the_heap_of_its_start_to_the_garbage_collector_no_more(db_url):
    """What is alive once the app is made (modules, classes: for good) is frozen, so the
    collector's full collections scan only what requests make."""
    import gc

    from fastapi import FastAPI

    assert gc.get_freeze_count() == 0
    try:
        app = web_workers.serving_app()
        assert isinstance(app, FastAPI)
        assert gc.get_freeze_count() > 10_000  # the app's, SQLAlchemy's, FastAPI's objects
    finally:
        gc.unfreeze()


@pytest.mark.skipif(not web_workers.balanced(), reason="SO_REUSEPORT balancing is Linux's")
def test_a_worker_that_fails_while_starting_stops_them_all_with_its_code():
    """Real worker processes that cannot start (here uvicorn refuses the log level): the
    supervisor stops the others and returns the code, which ``winback serve`` exits with."""
    supervisor = web_workers.Supervisor(
        host="127.0.0.1", port=_free_port(), workers=2, log_level="no-such-level"
    )
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:  # (the supervisor installs its own handlers for these)
        assert supervisor.run() == 1
        assert not any(process.is_alive() for process, _ in supervisor.processes)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
