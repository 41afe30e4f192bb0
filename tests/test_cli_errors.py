"""Every bad `winback` call prints one line on stderr and exits non-zero, never a traceback
(INTERFACES.md, issue 15 item 9): usage errors, bad values, missing files and folders, unknown
stores, through a real subprocess of the installed command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

BAD_CALLS = [
    [],
    ["bogus"],
    ["--version"],
    ["cycle"],
    ["cycle", "start"],
    ["cycle", "start", "--month", "2026-13"],
    ["cycle", "start", "--month", "0000-01"],
    ["cycle", "start", "--month", "9003-06"],
    ["cycle", "start", "--month", "2026-11", "--store", "NOPE"],
    ["cycle", "start", "--month", "2099-01", "--store", "S01"],  # years ahead (issue 17)
    ["cycle", "cancel", "--month", "2026-11", "--store", "S01"],  # no reason
    ["cycle", "cancel", "--month", "2026-11", "--store", "S01", "--reason", "x"],  # no such cycle
    ["cycle", "start", "--month", "2026-11", "--as-of", "yesterday"],
    ["cycle", "status", "--store", "NOPE"],
    ["cycle", "status", "--bogus"],
    ["watch", "--as-of", "garbage"],
    ["watch", "--store"],
    ["store"],
    ["store", "show"],
    ["store", "show", "NOPE"],
    ["store", "set", "S01"],
    ["store", "set", "S01", "bogus_key", "1"],
    ["store", "set", "S01", "survey_deadline_days", "abc"],
    ["store", "set", "S01", "survey_deadline_days", "-5"],
    ["store", "set", "S01", "at_risk_months", "40"],
    ["import"],
    ["import", "customers"],
    ["import", "furniture", "{tmp}/bad.csv"],
    ["import", "customers", "{tmp}/missing.csv"],
    ["import", "customers", "{tmp}/empty.csv"],
    ["import", "customers", "{tmp}/bad.csv"],
    ["import", "customers", "{tmp}/bad.csv", "--store", "NOPE"],
    ["import", "inbox", "--dir", "{tmp}/no-such-folder"],
    ["import", "inbox", "--dir"],
    ["audit"],
    ["audit", "verify", "--store", "NOPE"],
    ["audit", "verify", "--bogus"],
    ["restore", "{tmp}/no-backup.db", "--yes"],
    ["restore"],
    ["serve", "--port", "abc"],
    ["demo", "--as-of", "garbage", "--no-serve"],
    ["db"],
    ["db", "downgrade"],
    ["store", "create", "S01", "--name", "again"],
    ["store", "create", "bad code!", "--name", "x"],
    ["store", "create", "S02"],
    ["staff"],
    ["staff", "add", "u1", "--store", "S01", "--role", "chef", "--name", "x"],
    ["staff", "add", "bad user", "--store", "S01", "--role", "advisor", "--name", "x"],
    ["staff", "add", "u1", "--store", "NOPE", "--role", "advisor", "--name", "x"],
    ["staff", "add", "u1", "--store", "S01", "--role", "advisor", "--name", "x", "--notify", "nope://x"],
    ["staff", "add", "u1", "--store", "S01", "--role", "advisor", "--name", "x", "--password-stdin"],
    ["staff", "import", "{tmp}/bad.csv", "--store", "S01"],
    ["staff", "import", "{tmp}/missing.csv", "--store", "S01"],
    ["staff", "import", "{tmp}/empty.csv", "--store", "S01"],
    ["clock", "set", "garbage"],
    ["worker"],  # no PREFECT_API_URL: a worker has no server to take runs from
    ["worker", "--limit", "0"],
]


@pytest.fixture(scope="module")
def cli_env(_sqlite_template, tmp_path_factory) -> tuple[dict[str, str], Path]:
    """A migrated SQLite database with one store (S01), its data directory and a few files."""
    from winback.accounts import service as accounts
    from winback.actor import Actor

    tmp = tmp_path_factory.mktemp("cli")
    shutil.copyfile(_sqlite_template, tmp / "winback.db")
    url = f"sqlite:///{tmp / 'winback.db'}"
    engine = create_engine(url)
    with Session(engine) as session:
        accounts.create_store(session=session, code="S01", name="S01", actor=Actor.system(label="t"))
        session.commit()
    engine.dispose()
    (tmp / "bad.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp / "empty.csv").write_bytes(b"")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST")
        and k not in ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE", "PREFECT_API_URL")
    }
    env.update(WINBACK_DATABASE_URL=url, WINBACK_DATA_DIR=str(tmp), WINBACK_NOW="2026-11-02T09:00")
    return env, tmp


@pytest.mark.parametrize("args", BAD_CALLS, ids=lambda a: " ".join(a) or "(nothing)")
def test_a_bad_call_says_one_line_on_stderr_and_fails(cli_env, args):
    env, tmp = cli_env
    argv = [a.replace("{tmp}", str(tmp)) for a in args]
    r = subprocess.run(
        [sys.executable, "-m", "winback.cli", *argv],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("winback: error: "), r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    # In the reader's language (Chinese by default): no English sentence after the tag, once
    # the names a person types (options, commands, files, settings, examples) are set aside.
    told = (
        lines[0].removeprefix("winback: error: ").replace(str(tmp), "").replace("python -m winback.cli", "")
    )
    told = re.sub(r"`[^`]*`|--?[\w-]+|\b[A-Z_]{2,}\b|\b\w+_\w+\b|\S+\.(csv|db|txt)\b", "", told)
    for word in argv:
        told = told.replace(word, "")
    assert not re.search(r"[A-Za-z]+\W+[A-Za-z]+\W+[A-Za-z]+", told), lines[0]
    assert re.search(r"[\u4e00-\u9fff]", lines[0]), lines[0]


def test_a_good_call_still_exits_0(cli_env):
    env, tmp = cli_env
    r = subprocess.run(
        [sys.executable, "-m", "winback.cli", "store", "show", "S01"],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "" and '"survey_deadline_days": 7' in r.stdout


def test_a_command_that_ends_well_leaves_its_output_and_its_database_whole(cli_env, tmp_path):
    """A command that succeeds ends without the interpreter's finalization (winback/cli/leave.py):
    what it printed still arrives through a pipe, and what it wrote is in the database file
    itself (SQLite's write-ahead log folded back), so a copy of that file alone holds it."""
    shared_env, shared = cli_env
    tmp = tmp_path  # a database of its own: the module's other tests read S01's settings
    shutil.copyfile(shared / "winback.db", tmp / "winback.db")
    env = {
        **shared_env,
        "WINBACK_DATABASE_URL": f"sqlite:///{tmp / 'winback.db'}",
        "WINBACK_DATA_DIR": str(tmp),
    }
    r = subprocess.run(
        [sys.executable, "-m", "winback.cli", "store", "set", "S01", "survey_deadline_days", "9"],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stderr == "" and r.stdout.strip(), (r.stdout, r.stderr)
    wal = tmp / "winback.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    shutil.copyfile(tmp / "winback.db", tmp / "copy.db")  # the file alone, no log beside it
    engine = create_engine(f"sqlite:///{tmp / 'copy.db'}")
    with engine.connect() as conn:
        settings = conn.exec_driver_sql("SELECT settings FROM stores WHERE code = 'S01'").scalar()
    engine.dispose()
    assert json.loads(settings)["survey_deadline_days"] == 9
    shown = subprocess.run(
        [sys.executable, "-m", "winback.cli", "store", "show", "S01"],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0 and shown.stdout.rstrip().endswith("}"), shown.stdout[-200:]


def test_an_english_reader_gets_the_same_errors_in_english(cli_env):
    env, tmp = cli_env
    for args, said in (
        (["bogus"], "there is no command 'bogus' (see python -m winback.cli --help)"),
        (["cycle", "start"], "the option --month is missing"),
        (["store", "set", "S01", "survey_deadline_days", "abc"], "survey_deadline_days: not a whole number"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "winback.cli", *args],
            env={**env, "LANG": "en_US.UTF-8"},
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode != 0 and said in r.stderr, r.stderr
