"""Serving the web app from several processes that share the load.

One Python process uses one core for the app's own work (the GIL), so ``winback serve
--workers N`` (or ``WINBACK_WEB_WORKERS``) runs N. uvicorn's ``--workers`` shares one listening
socket among them, and the worker that wakes first takes every connection waiting in the queue:
measured with 32 staff logging in at once (``bench/soak.py``), one worker served every request
on its keep-alive connection (34.8 s of CPU in a 40 s window) while the other served none
(0.1 s), so a second core gave nothing. Here, on Linux, each worker binds its own socket to the
same address with ``SO_REUSEPORT`` and the kernel spreads new connections over them (by the
connection's addresses and ports). Elsewhere (no ``SO_REUSEPORT`` balancing) uvicorn's own
workers are used.

The supervisor is small on purpose: it starts the workers, starts again one that dies (not one
that fails at start-up: that would fail again), and stops them all on Ctrl-C or SIGTERM. A
worker exits when the supervisor is gone, even after a kill -9.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time

APP = "winback.cli.web_workers:serving_app"
# A worker that dies within this many seconds of its start is not started again.
STARTUP_SECONDS = 10.0


class PortTaken(Exception):
    """The address cannot be bound (another program listens on it)."""


def balanced() -> bool:
    """Whether the kernel spreads connections over sockets bound with ``SO_REUSEPORT``."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def serving_app():
    """The app as a server process serves it (uvicorn's factory): made, then everything alive
    at that point (the modules of the app, SQLAlchemy, Prefect: most of the heap, for good)
    moved out of the garbage collector's reach. Its full collections then scan only what the
    requests made; before, one every ~300 requests scanned the whole heap (~0.15 s, half a
    millisecond a request)."""
    import gc

    from app import create_app

    app = create_app()
    gc.freeze()
    return app


def serve(*, host: str, port: int, workers: int, log_level: str = "warning") -> int | None:
    """Serve the app on ``host:port`` from ``workers`` processes until Ctrl-C or SIGTERM.
    Returns the exit code of a worker that died while starting (the supervisor then stopped
    them all), else None."""
    import uvicorn

    if workers <= 1:
        uvicorn.run(APP, factory=True, host=host, port=port, log_level=log_level)
        return None
    if not balanced():
        uvicorn.run(APP, factory=True, host=host, port=port, log_level=log_level, workers=workers)
        return None
    return Supervisor(host=host, port=port, workers=workers, log_level=log_level).run()


def check_free(host: str, port: int) -> None:
    """``PortTaken`` when a program listens on the address already (another ``serve`` with
    ``SO_REUSEPORT`` included, which a second bind would silently join): told once, before
    anything starts, whatever the number of workers."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        pass
    else:
        raise PortTaken(port)
    try:
        if balanced():
            _listener(host, port).close()
        else:
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
                probe.bind((host, port))
    except OSError as exc:
        raise PortTaken(port) from exc


def _listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, log_level: str, parent: int) -> None:
    """One worker process: its own socket in the port's group, one uvicorn server on it."""
    import uvicorn

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, name="watch-supervisor", daemon=True).start()
    sock = _listener(host, port)
    sock.listen(2048)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    def __init__(self, *, host: str, port: int, workers: int, log_level: str) -> None:
        self.args = (host, port, log_level, os.getpid())
        self.count = workers
        self.context = multiprocessing.get_context("spawn")  # a fresh interpreter, as uvicorn's
        self.processes: list[tuple[multiprocessing.process.BaseProcess, float]] = []
        self.stopping = threading.Event()
        self.failed: int | None = None  # the exit code of a worker that died while starting

    def _start(self) -> tuple[multiprocessing.process.BaseProcess, float]:
        process = self.context.Process(target=_worker, args=self.args, name="winback-web")
        process.start()
        return process, time.monotonic()

    def run(self) -> int | None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.processes = [self._start() for _ in range(self.count)]
        try:
            while not self.stopping.wait(0.5):
                self._keep_alive()
        finally:
            self._stop_all()
        return self.failed

    def _keep_alive(self) -> None:
        for i, (process, started) in enumerate(self.processes):
            if process.is_alive():
                continue
            if time.monotonic() - started < STARTUP_SECONDS:  # it would fail again: stop
                self.failed = process.exitcode if process.exitcode else 1
                self.stopping.set()
                return
            self.processes[i] = self._start()

    def _stop_all(self) -> None:
        for process, _ in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        deadline = time.monotonic() + 30
        for process, _ in self.processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
