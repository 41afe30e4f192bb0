"""Backups of the database.

SQLite (the embedded default): SQLite's online backup API copies a consistent snapshot while
the app keeps running. PostgreSQL: ``pg_dump --format=custom`` (and ``pg_restore``), the tools
a DBA already trusts; this module only runs them with the configured URL.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from winback.errors import InvalidInput


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def default_target(url: str, data_dir: Path, stamp: datetime) -> Path:
    suffix = ".db" if url.startswith("sqlite") else ".dump"
    return data_dir / "backups" / f"winback-{stamp:%Y%m%d-%H%M%S}{suffix}"


def backup(*, url: str, target: Path) -> Path:
    """Write a consistent copy of the database to ``target``; returns it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        source = _sqlite_path(url)
        if not source.exists():
            raise InvalidInput("no database file at {source}", source=source)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)  # online: readers and writers may go on meanwhile
        return target
    if shutil.which("pg_dump") is None:
        raise InvalidInput("pg_dump is not installed; install the PostgreSQL client tools")
    u = make_url(url).set(drivername="postgresql")
    result = subprocess.run(
        [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            f"--file={target}",
            u.render_as_string(hide_password=False),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise InvalidInput(
            "pg_dump failed: {error}",
            error=result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode,
        )
    return target


def restore(*, url: str, source: Path) -> None:
    """Replace the database's content with the backup ``source`` (stop the app first)."""
    if not source.exists():
        raise InvalidInput("no backup file at {source}", source=source)
    if url.startswith("sqlite"):
        try:
            with sqlite3.connect(source) as check:
                check.execute("PRAGMA schema_version").fetchone()
        except sqlite3.DatabaseError:
            raise InvalidInput("{source} is not a SQLite backup", source=source) from None
        with sqlite3.connect(source) as src, sqlite3.connect(_sqlite_path(url)) as dst:
            src.backup(dst)
        return
    if shutil.which("pg_restore") is None:
        raise InvalidInput("pg_restore is not installed; install the PostgreSQL client tools")
    u = make_url(url).set(drivername="postgresql")
    result = subprocess.run(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={u.render_as_string(hide_password=False)}",
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise InvalidInput(
            "pg_restore failed: {error}",
            error=result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode,
        )
