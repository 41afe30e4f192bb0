"""The keys an import has met (RO numbers, customer codes, VINs), each with the row of the file
it was first met on, so a key that comes again is reported as a duplicate of that row.

A dict of every key grew with the file (~165 bytes a key: 33 MB more for each 200,000 repair
orders). ``SeenKeys`` keeps the most recent ``MEMORY_KEYS`` in memory and moves the older ones
to a scratch SQLite file of its own (a temporary file, deleted when the import ends), so an
import's memory stays bounded whatever the file's length. A file shorter than that never
touches the disk; a longer one pays one indexed look-up per new key (a few microseconds).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence

MEMORY_KEYS = 200_000


class SeenKeys:
    """``key -> first row number``: ``get``, ``setdefault``, ``forget_rows`` and ``close``."""

    def __init__(self, memory_keys: int | None = None) -> None:
        self.memory_keys = memory_keys or MEMORY_KEYS
        self.recent: dict[str, int] = {}
        self._disk: sqlite3.Connection | None = None
        self._path: str | None = None

    def __len__(self) -> int:
        on_disk = self._disk.execute("SELECT count(*) FROM seen").fetchone()[0] if self._disk else 0
        return len(self.recent) + on_disk

    def get(self, key: str) -> int | None:
        first = self.recent.get(key)
        if first is None and self._disk is not None:
            row = self._disk.execute("SELECT first FROM seen WHERE key = ?", (key,)).fetchone()
            first = row[0] if row else None
        return first

    def __setitem__(self, key: str, number: int) -> None:
        self.recent[key] = number
        if len(self.recent) >= self.memory_keys:
            self._spill()

    def setdefault(self, key: str, number: int) -> int:
        """The row ``key`` was first met on; ``number`` (and remembered) if it is new."""
        first = self.get(key)
        if first is None:
            self[key] = number
            return number
        return first

    def first_rows(self, keys: Sequence[str], numbers: Sequence[int]) -> list[int]:
        """``setdefault`` for a chunk's keys in file order: each key's first row. While the
        keys fit in memory, one dict's ``setdefault`` per key in a comprehension (a chunk's
        method calls per key were a tenth of an import's Python time)."""
        recent = self.recent
        if self._disk is None and len(recent) + len(keys) < self.memory_keys:
            return [recent.setdefault(k, n) for k, n in zip(keys, numbers, strict=True)]
        return [self.setdefault(k, n) for k, n in zip(keys, numbers, strict=True)]

    def forget_rows(self, numbers: Iterable[int]) -> None:
        """Forget the keys first met on these rows (a chunk the database refused: its rows are
        tried again, and must not count as met)."""
        numbers = set(numbers)
        for key in [k for k, first in self.recent.items() if first in numbers]:
            del self.recent[key]
        if self._disk is not None and numbers:
            self._disk.executemany("DELETE FROM seen WHERE first = ?", ((n,) for n in numbers))

    def close(self) -> None:
        """Drop the scratch file (the import has ended)."""
        if self._disk is not None:
            self._disk.close()
            self._disk = None
        if self._path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            self._path = None
        self.recent.clear()

    def _spill(self) -> None:
        if self._disk is None:
            fd, self._path = tempfile.mkstemp(prefix="winback-import-keys-", suffix=".db")
            os.close(fd)
            # A scratch file: nothing in it must survive a crash, so no journal and no syncing.
            self._disk = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._disk.execute("PRAGMA journal_mode=OFF")
            self._disk.execute("PRAGMA synchronous=OFF")
            self._disk.execute(
                "CREATE TABLE seen (key TEXT PRIMARY KEY, first INTEGER NOT NULL) WITHOUT ROWID"
            )
            self._disk.execute("CREATE INDEX seen_first ON seen (first)")
        self._disk.execute("BEGIN")
        self._disk.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", self.recent.items())
        self._disk.execute("COMMIT")
        self.recent.clear()

    def __del__(self) -> None:  # an import that ended by an exception still drops its file
        with contextlib.suppress(Exception):
            self.close()
