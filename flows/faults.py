"""Crash injection for the crash test (tests/test_crash.py) and bench/crash.py.

``WINBACK_KILL_AT=<flow name>:<moment>`` makes the process kill itself with SIGKILL (no
cleanup, no hooks: what kill -9 or a power cut does) when a run of that flow reaches the
moment:

* ``start``: its run is recorded running, its work not begun;
* ``commit``: its work is flushed to the database, just before its transaction commits;
* ``committed``: just after it committed, before the run is recorded completed;
* ``stall``: its run is recorded running, then it sleeps (to stop it with a signal there).

Unset (always, outside those two), nothing is armed and nothing is checked.
"""

from __future__ import annotations

import contextvars
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

_quiet = contextvars.ContextVar("winback_fault_quiet", default=False)
_armed: tuple[str, str] | None = None


def _current_flow() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.get_flow_name()


def hit(flow_name: str, moment: str) -> None:
    """Die here if this is the armed point."""
    if _armed == (flow_name, moment):
        os.kill(os.getpid(), signal.SIGKILL)
    if moment == "start" and _armed == (flow_name, "stall"):
        time.sleep(3600)


@contextmanager
def quiet() -> Iterator[None]:
    """The run-tracking writes are not the flow's work: their commits are no fault points."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _on_commit(moment: str):
    def check(session) -> None:
        if not _quiet.get() and _armed and _armed[1] == moment and _current_flow() == _armed[0]:
            hit(_armed[0], moment)

    return check


def arm() -> None:
    global _armed
    spec = os.environ.get("WINBACK_KILL_AT", "")
    if not spec or _armed:
        return
    flow_name, _, moment = spec.partition(":")
    if moment not in ("start", "commit", "committed", "stall"):
        raise ValueError(f"WINBACK_KILL_AT={spec!r}: the moment is start, commit, committed or stall")
    _armed = (flow_name, moment)
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "before_commit", _on_commit("commit"))
    event.listen(Session, "after_commit", _on_commit("committed"))


arm()
