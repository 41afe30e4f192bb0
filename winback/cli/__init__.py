"""The ``winback`` command. Errors print one line on stderr and exit non-zero, never a traceback.

One module per command group (``cycle``, ``store``, ``staff``, ``imports``...); this one puts
them together under ``app`` and runs it (``main``, the ``winback`` script). A command imports
the modules it needs when it runs, so ``winback --help`` stays fast."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from winback.cli import (
    audit,
    backup,
    care,
    clock,
    cycle,
    database,
    failures,
    imports,
    serve,
    staff,
    store,
    worker,
)
from winback.cli.common import cli_locale, say
from winback.cli.leave import leave

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="winback: find lapsed customers, learn why, fix the causes, win them back.",
)
# In the order `winback --help` lists them.
app.add_typer(database.db_app, name="db")
app.add_typer(cycle.cycle_app, name="cycle")
app.add_typer(store.store_app, name="store")
app.add_typer(imports.import_app, name="import")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(care.care_app, name="care")
app.add_typer(staff.staff_app, name="staff")
app.add_typer(clock.clock_app, name="clock")
app.command("watch")(cycle.watch)
app.command("backup")(backup.backup_cmd)
app.command("restore")(backup.restore_cmd)
app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.command("worker")(worker.worker)


@app.callback()
def _options(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="zh or en: the language of the messages (default: LANG, else zh)."),
    ] = None,
) -> None:
    # --lang before the command (winback --lang en cycle status) is read by cli_locale()
    import db.session

    # Bound before any command runs, so the demo clock kept in the database (winback.clock)
    # is the command's business time from its first reading on (creating an engine connects nothing).
    if not db.session.is_configured():
        db.session.configure()


def main() -> None:
    """The process's entry point (the ``winback`` script): it ends the process."""
    from winback.errors import DomainError

    try:
        # Not standalone: Click's usage errors come here, to be told in one line like any other.
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("winback: error: " + say("aborted"), err=True)
        sys.exit(1)
    except typer.TyperException as exc:  # Click's errors (typer bundles its own Click)
        ctx = getattr(exc, "ctx", None)
        path = ctx.command_path if ctx is not None else "winback"
        if type(exc).__name__ == "NoArgsIsHelpError":  # `winback`, `winback cycle`: typer showed the help
            message = say("a command is missing; see {path} --help", path=path)
        else:
            message = failures.usage_message(exc) + (
                say(" (see {path} --help)", path=path) if ctx is not None else ""
            )
        typer.echo(f"winback: error: {message}", err=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except DomainError as exc:
        typer.echo(f"winback: error: {exc.message.translate(cli_locale())}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a CLI user gets one line; the details go to the log file
        typer.echo("winback: error: " + failures.unexpected_error_message(exc), err=True)
        sys.exit(1)
    leave(code if isinstance(code, int) else 0)  # without the interpreter's finalization (leave.py)
