"""How a command that succeeded ends its process: the exit handlers, then at once.

After the exit handlers (Prefect's events sent, a temporary Prefect server stopped, the logs
flushed), the interpreter's own finalization frees every object of the process one by one:
Prefect's, pydantic's and SQLAlchemy's modules and the command's work. Measured on
``winback cycle start`` at store scale: 0.7-1.4 s of a 6-8 s command, with nothing left to
do. A command that ends well skips it, unless a thread of its own is still running (that one
is waited for, as at any exit).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import NoReturn

log = logging.getLogger(__name__)


def leave(code: int = 0) -> NoReturn:
    """Exit with ``code`` after the exit handlers, without the interpreter's finalization."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # a worker thread is still at work: the normal exit joins it first
    try:
        _close_database()
    except Exception:  # the command's work is committed; a pool that will not close changes nothing
        log.debug("could not close the database's connections at exit", exc_info=True)
    try:
        atexit._run_exitfuncs()  # every handler, last registered first, as at a normal exit
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more to say
                pass
        os._exit(code)


def _close_database() -> None:
    """Close the pooled connections, as the finalization would: SQLite folds its write-ahead
    log back into the database file when its last connection closes (a copy of the file alone
    is then whole)."""
    import db.session

    if db.session.is_configured():
        db.session.get_engine().dispose()
