"""The web process's audit sealer: chains the events its requests committed outside the chain.

A request's session is ``seal_later`` (``edge.session``): its events commit at once with their
HMAC outside the chain, and the commit hands the stores it wrote in to this process's sealer, a
thread that gives them their places (``winback.audit.chain.seal_waiting``) in a short
transaction of its own per store. Requests never wait for a store's chain head; sealers of
several processes take the head in turn, and each seals every event waiting in its store at
once, so a burst of requests costs one seal, not one each. To make that burst, a sealer woken
by a commit first gathers for ``GATHER_SECONDS``: at saturation it sealed after nearly every
write (a transaction of four statements and the events loaded as objects each time, ~8 % of a
web process's interpreter in the soak), where one seal now chains a fifth of a second's events.

Nothing is lost if the process stops before it seals: the events wait in the database with a
valid HMAC (``audit verify`` counts them as waiting), and the next sealer of any process chains
them first (it starts with every store that has events waiting), as does a process's exit.
"""

from __future__ import annotations

import atexit
import logging
import threading

from db.session import session_scope
from winback.audit import chain

log = logging.getLogger(__name__)

# After a failed seal (the database unreachable, say), wait this long before trying again.
RETRY_SECONDS = 1.0
# After a commit wakes it, the sealer waits this long for the commits that follow, then chains
# them all in one transaction per store. An event waits outside the chain this much longer.
GATHER_SECONDS = 0.2


class Sealer:
    def __init__(self) -> None:
        self._stores: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._hurry = threading.Event()  # someone waits for the seal: do not gather
        self._thread: threading.Thread | None = None
        self._swept = False  # the stores left waiting by an earlier process were looked for
        self._failures = 0  # seals failed in a row

    def request(self, chains: set[int]) -> None:
        """Seal ``chains`` soon (called right after a commit that left events waiting)."""
        with self._lock:
            self._stores |= chains
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
                self._thread.start()
        self._wake.set()

    def wait_idle(self, timeout: float = 30.0, *, hurry: bool = True) -> bool:
        """Until every event handed over so far is chained (tests; a process's exit); with
        ``hurry`` the sealer does not wait for more commits first."""
        if not hurry:
            return self._idle.wait(timeout)
        self._hurry.set()
        try:
            return self._idle.wait(timeout)
        finally:
            self._hurry.clear()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._hurry.wait(GATHER_SECONDS)
            self._wake.clear()
            with self._lock:
                chains, self._stores = self._stores, set()
            try:
                self._seal(chains)
            except Exception:  # the next wake-up (or the retry) tries again; nothing is lost
                self._failures += 1
                if self._failures % 60 == 1:  # once a minute while the database stays away
                    log.exception("could not chain the audit events of stores %s; retrying", sorted(chains))
                with self._lock:
                    self._stores |= chains
                self._wake.wait(RETRY_SECONDS)
                self._wake.set()
                continue
            self._failures = 0
            with self._lock:
                if not self._stores:
                    self._idle.set()

    def _seal(self, chains: set[int]) -> None:
        if not self._swept:
            with session_scope() as session:
                chains = chains | chain.chains_waiting(session=session)
        for c in sorted(chains):  # one order in every process: sealers never deadlock
            with session_scope() as session:
                chain.seal_waiting(session=session, chain=c)
        self._swept = True  # only once all were sealed: a failed round looks again on its retry

    def drain(self) -> None:
        """At exit: what is still to be sealed, in this thread (best effort)."""
        with self._lock:
            chains, self._stores = self._stores, set()
        if chains:
            try:
                self._seal(chains)
            except Exception:
                log.exception("could not chain the audit events of stores %s at exit", sorted(chains))


sealer = Sealer()
atexit.register(sealer.drain)
