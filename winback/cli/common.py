"""What every command shares: its language, its one-line error, its business time (``--as-of``)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Business time, e.g. 2027-02-15T09:00 (also WINBACK_NOW).")
]


def cli_locale() -> str:
    """The language of the command's messages: ``--lang en``, else LC_ALL/LC_MESSAGES/LANG, else Chinese."""
    from winback.i18n import locale_from_env

    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return "en" if arg.split("=", 1)[1] == "en" else "zh"
        if arg == "--lang" and i + 1 < len(argv):
            return "en" if argv[i + 1] == "en" else "zh"
    return locale_from_env()


def describe(launched) -> str:
    """A launched flow run in the command's language: its record, Prefect's id, its process."""
    text = say("flow run #{record}", record=launched.record_id)
    if launched.prefect_flow_run_id:
        text += " (Prefect " + launched.prefect_flow_run_id + ")"
    if launched.owner:  # technical detail: "process 1234 on host"
        text += ", " + launched.owner
    return text


def say(msgid: str, **params) -> str:
    """A line of the command in its language, from the one catalog (``winback.i18n``)."""
    from winback.i18n import translate

    return translate(msgid, cli_locale(), **params)


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"winback: error: {message}", err=True)
    raise typer.Exit(code)


def set_clock(as_of: str | None, persist: bool = True) -> str | None:
    """``--as-of``: this command's business time, and (``persist``) the demo clock every process
    reads from the database, so a running web server shows the same day (``winback clock``)."""
    from winback import clock

    if as_of:
        try:
            clock.set_now(as_of)
        except ValueError:
            fail(
                say(
                    "--as-of must be an ISO date or date-time such as 2027-02-15T09:00, not '{as_of}'",
                    as_of=as_of,
                )
            )
        os.environ["WINBACK_NOW"] = as_of
        if persist:
            keep_demo_clock(clock.now())
    return as_of or os.environ.get("WINBACK_NOW") or _stored_as_of()


def keep_demo_clock(at) -> None:
    from db.session import session_scope
    from winback import democlock
    from winback.actor import Actor

    with session_scope() as session:
        democlock.set_demo_clock(session=session, as_of=at, actor=Actor.system(label="cli --as-of"))


def _stored_as_of() -> str | None:
    """The demo clock kept in the database, for the flows this command starts (which may run in
    another process): None when time runs as it is."""
    import db.session
    from winback import clock

    if not db.session.is_configured():
        db.session.configure()
    at = clock.stored()
    return at.isoformat() if at is not None else None
