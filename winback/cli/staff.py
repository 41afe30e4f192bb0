"""``winback staff``: add one person to a store, or import its staff list."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from winback.cli.common import cli_locale, fail, say

staff_app = typer.Typer(no_args_is_help=True, help="A store's people: add one, or import the staff list.")


RoleOpt = Annotated[
    list[str],
    typer.Option(
        "--role",
        help="admin, supervisor, advisor, manager, auditor (or the Chinese role names of a staff "
        "list); repeat for several.",
    ),
]


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Argument(help="The log-in name (letters, digits, . _ @ -).")],
    store: Annotated[str, typer.Option("--store", help="Store code.")],
    name: Annotated[str, typer.Option("--name", help="The person's name.")],
    role: RoleOpt,
    notify: Annotated[
        str | None,
        typer.Option(
            "--notify", help="Where notifications go: an Apprise URL (mailto://, wecombot://, json://…)."
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of stdin; without it one is generated, "
            "printed once, and must be changed at the first log-in.",
        ),
    ] = False,
) -> None:
    """Add a person to a store (audited)."""
    from db.session import session_scope
    from winback import roster
    from winback.accounts import service as accounts
    from winback.actor import Actor

    roles = []
    for text in role:
        roles += [r for r in roster.parse_roles(text) if r not in roles]
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    with session_scope() as session:
        target = accounts.get_store(session=session, code=store)
        staff, generated = roster.add_staff(
            session=session,
            store_id=target.id,
            username=username,
            display_name=name,
            roles=roles,
            password=password,
            apprise_url=notify,
            actor=Actor.system(label="cli"),
        )
        typer.echo(
            say(
                "{username} ({name}) added to {store} as {roles}",
                username=staff.username,
                name=staff.display_name,
                store=target.code,
                roles=", ".join(say(r.value) for r in roles),
            )
        )
    if generated:
        typer.echo(
            say(
                "first password (shown once; to be changed at the first log-in): {password}",
                password=generated,
            )
        )


@staff_app.command("import")
def staff_import(
    file: Annotated[str, typer.Argument(help="The staff list: XLSX, XLS or CSV with a header row.")],
    store: Annotated[str, typer.Option("--store", help="Store code.")],
    passwords_file: Annotated[
        str | None,
        typer.Option(
            "--passwords-file",
            help="Write the generated first passwords to this CSV (a new file, readable by you only) "
            "instead of printing them.",
        ),
    ] = None,
) -> None:
    """Create an account for each person of a staff list (姓名, 用户名/工号, 岗位/角色, 手机, 邮箱,
    企业微信, 通知地址). Good rows land; every problem of the others is listed. Each new account
    gets a generated first password, shown once, to be changed at the first log-in."""
    from db.session import session_scope
    from winback import roster
    from winback.accounts import service as accounts
    from winback.actor import Actor

    path = Path(file)
    if not path.is_file():
        fail(say("no such file: {file}", file=file))
    out = Path(passwords_file) if passwords_file else None
    if out is not None and out.exists():
        fail(say("{file} exists already; name a new file for the passwords", file=passwords_file))
    with session_scope() as session:
        target = accounts.get_store(session=session, code=store)
        result = roster.import_roster(
            session=session,
            store_id=target.id,
            source=path,
            filename=path.name,
            actor=Actor.system(label="cli"),
        )
        if out is not None and result.created:
            # Before the commit: when the file cannot be written, no account is left without its password.
            _write_passwords(out, result.created)
    _print_roster_report(result, name=path.name, out=out)
    if result.errors:
        raise typer.Exit(1)


def _write_passwords(out: Path, created) -> None:
    """The first passwords in a new file only its owner can read (refused if it exists)."""
    import csv

    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([say("username"), say("name"), say("first password")])
        writer.writerows(created)


def _print_roster_report(result, *, name: str, out: Path | None) -> None:
    """The counts, every row's problems, and where the first passwords are (or them, once)."""
    locale = cli_locale()
    typer.echo(
        say(
            "staff list {name}: {rows} rows: {new} accounts created, {failed} rows with errors",
            name=name,
            rows=result.rows,
            new=len(result.created),
            failed=result.failed_rows,
        )
    )
    for e in result.errors:
        typer.echo(
            say(
                "  row {row}, {column}: {reason}",
                row=e.row_number,
                column=e.column or "-",
                reason=e.reason.translate(locale),
            )
            + (say(" ({value})", value=e.value) if e.value else "")
        )
    if result.created and out is None:
        typer.echo(say("first passwords (shown once; each is changed at the first log-in):"))
        for username, name_, password in result.created:
            typer.echo(f"  {username:<16} {name_:<10} {password}")
    elif result.created:
        typer.echo(say("first passwords written to {file}; hand each person their own", file=out))
