"""`winback backup` / `winback restore`, through the real command, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

BIN = Path(sys.executable).parent


def winback(*args: str, url: str, data_dir: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WINBACK_DATABASE_URL": url, "WINBACK_DATA_DIR": str(data_dir), **extra_env}
    return subprocess.run([str(BIN / "winback"), *args], env=env, capture_output=True, text=True, timeout=120)


def count_stores(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.scalar(text("select count(*) from stores"))
    engine.dispose()
    return n


def test_backup_then_restore_brings_the_data_back(db_url, demo_store, tmp_path):
    if db_url.startswith("postgresql") and shutil.which("pg_dump") is None:
        pytest.fail("pg_dump missing: install the PostgreSQL client tools")
    target = tmp_path / "backup.bin"
    r = winback("--lang", "en", "backup", "--to", str(target), url=db_url, data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "backup written" in r.stdout and target.stat().st_size > 0
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into stores (code, name, settings, created_at) values ('S99', 'later', '{}', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    assert count_stores(db_url) == 2
    from db.session import get_engine

    get_engine().dispose()  # the test's own pool must not hold the database during restore
    r = winback("restore", str(target), "--yes", url=db_url, data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert count_stores(db_url) == 1


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    url = f"sqlite:///{tmp_path / 'w.db'}"
    r = winback("restore", str(bogus), "--yes", url=url, data_dir=tmp_path)
    assert r.returncode != 0
    assert r.stderr.startswith("winback: error:") and "Traceback" not in r.stderr
    # the command's language: Chinese unless asked otherwise
    zh = winback("restore", str(bogus), "--yes", url=url, data_dir=tmp_path, LANG="C.UTF-8", LC_ALL="")
    en = winback("restore", str(bogus), "--yes", url=url, data_dir=tmp_path, LANG="en_GB.UTF-8", LC_ALL="")
    assert "不是 SQLite 备份" in zh.stderr and "is not a SQLite backup" in en.stderr
    assert (
        "is not a SQLite backup"
        in winback(
            "--lang", "en", "restore", str(bogus), "--yes", url=url, data_dir=tmp_path, LANG="C.UTF-8"
        ).stderr
    )
