"""The lease a process holds on the flow runs it runs (winback/cycles/flow_runs.py).

One daemon thread per process renews every live run this process owns, every third of
``flow_run_lease_seconds``, in one UPDATE. It is never joined, so a flow's exit does not
wait for it (Prefect's own heartbeat thread, which is, is turned off for in-process runs and
for a deployed run's subflows: ``flows.common.without_heartbeats``).
When the process stops on purpose (normal exit, Ctrl-C, SIGTERM) its live runs end as
cancelled; when it is killed (kill -9, power cut) they are found dead by the next launcher or
watcher and marked crashed.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading

from db.session import session_scope
from winback.cycles import flow_runs

log = logging.getLogger(__name__)

_lock = threading.Lock()
_started_in: int | None = None  # the pid whose thread runs (a forked child starts its own)
_stop = threading.Event()


def _beat_forever(interval: float) -> None:
    owner = flow_runs.this_process()
    while not _stop.wait(interval):
        try:
            with session_scope() as session:
                flow_runs.heartbeat(session=session, owner=owner)
        except Exception:  # a missed beat is not fatal: the lease is three beats long
            log.warning("flow-run heartbeat failed", exc_info=True)


def hold() -> None:
    """Make sure this process renews its leases and gives them back when it stops."""
    global _started_in
    with _lock:
        if _started_in == os.getpid():
            return
        _started_in = os.getpid()
        from winback.config import get_settings

        interval = get_settings().flow_run_lease_seconds / 3
        threading.Thread(target=_beat_forever, args=(interval,), name="flow-run-lease", daemon=True).start()
        atexit.register(release, "stopped: the process running it exited")
        _stop_on_sigterm()


def release(message: str) -> None:
    """End this process's live runs as cancelled (called at exit)."""
    try:
        with session_scope() as session:
            n = flow_runs.release(session=session, owner=flow_runs.this_process(), message=message)
        if n:
            log.warning("%d flow run(s) cancelled: %s", n, message)
    except Exception:  # the database may be gone too; the next launcher will reap them
        log.warning("could not release the flow-run leases", exc_info=True)


def _stop_on_sigterm() -> None:
    """SIGTERM stops a run like Ctrl-C does: the flow ends (Prefect records it), the record
    is closed, the process exits. Only from the main thread, and only where nobody (uvicorn,
    a Prefect worker) handles SIGTERM already."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
