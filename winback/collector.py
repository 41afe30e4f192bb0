"""Python's cyclic garbage collector around the set-based passes (an import, the care pass,
the cycle's stages: ``@collector.young_collections_only()`` on the service, or ``with``).

Such a pass keeps many objects alive at once (a chunk's rows, a store's car histories). Each
of the collector's full collections scans every live object (the app's, SQLAlchemy's and
Prefect's, and the pass's own), and the pass's allocations set off one after another.
Measured: a fifth of a 200,000-row import (1 s of 5 s), a tenth to a sixth of a store's care
pass, and 0.4 s of the 3.4 s a store's cleanup, screening, profile and assignment take.

``young_collections_only`` pauses the collector for the pass; the pass collects its young
generations itself where it has let go of a batch (``collect_young``), so the short-lived
cycles it makes are freed as before, and what only a full collection frees waits for the end
of the pass. Peak memory measured the same with and without (bench/README.md).

Threads share the collector: a pass that finds it already paused (another pass in another
thread) leaves it as it is at its end, and the first pass's end enables it again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def young_collections_only() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect_young() -> None:
    """Collect the two young generations (what the pass made since the last batch)."""
    gc.collect(1)
