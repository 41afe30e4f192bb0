"""How a failed command is told: Click's usage errors in the reader's language, and the
traceback of an unexpected error kept in a log file instead of shown."""

from __future__ import annotations

import re
from pathlib import Path

from winback.cli.common import say
from winback.i18n import N_

_USAGE_PATTERNS = (
    # Click's sentences that carry no structured fields, recognised to be told in the reader's language.
    (
        re.compile(r"^No such command '(?P<name>.*?)'\. Did you mean '(?P<guess>.*)'\?$"),
        N_("there is no command '{name}'; did you mean '{guess}'?"),
    ),
    (re.compile(r"^No such command '(?P<name>.*)'\.?$"), N_("there is no command '{name}'")),
    (
        re.compile(r"^Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)$"),
        N_("unexpected extra argument(s): {args}"),
    ),
)


def usage_message(exc: Exception) -> str:
    """A usage error of Click (bundled in typer) in the command's language: told from the error's
    kind and fields (which option, which value), not from Click's English sentence."""
    kind = type(exc).__name__
    param = getattr(exc, "param", None)
    if param is None:
        name = ""
    elif getattr(param, "param_type_name", "") == "argument":  # shown in the help as FILE
        name = str(param.name or "").upper()
    else:
        name = " / ".join(getattr(param, "opts", None) or [str(param.name or "")])
    text = " ".join((exc.format_message() if hasattr(exc, "format_message") else str(exc)).split())
    if kind == "NoSuchOption":
        return say("there is no option {option}", option=exc.option_name)
    if kind == "MissingParameter" and name:
        if getattr(param, "param_type_name", "") == "argument":
            return say("the argument {name} is missing", name=name)
        return say("the option {name} is missing", name=name)
    if kind == "BadOptionUsage":
        if "does not take a value" in text:
            return say("the option {option} takes no value", option=exc.option_name)
        return say("the option {option} needs a value", option=exc.option_name)
    if kind in ("BadParameter", "MissingParameter") and name:
        value = re.search(r"Value (?P<value>'.*?') is not a valid", getattr(exc, "message", "") or "")
        if value:
            return say("{name}: {value} is not a valid value", name=name, value=value["value"])
        return say("{name}: the value is not valid", name=name)
    for pattern, msgid in _USAGE_PATTERNS:
        m = pattern.match(getattr(exc, "message", "") or text)
        if m:
            return say(msgid, **m.groupdict())
    return text


def log_exception(exc: BaseException) -> Path | None:
    """The traceback of an error the one-line message does not explain, kept for whoever supports the store."""
    import traceback

    from winback.config import get_settings

    log_file = get_settings().data_dir / "cli-errors.log"
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "a", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return log_file


def unexpected_error_message(exc: Exception) -> str:
    """An error no command expected, in one line: what the database said (never the SQL and the
    row's values it quotes), else the error's name and text; the traceback goes to the log file."""
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    if isinstance(exc, SQLAlchemyError) and not isinstance(exc, OperationalError):
        # its text quotes the SQL and the row's values (names, phone numbers): a log file only
        log_file = log_exception(exc)
        return say("the database refused the change; nothing was saved") + (
            say(" (details in {log_file})", log_file=log_file) if log_file else ""
        )
    if isinstance(exc, OperationalError):
        return say(
            "the database is not reachable or not set up ({error}); "
            "check WINBACK_DATABASE_URL and run `winback db upgrade`",
            error=exc.orig,
        )
    log_file = log_exception(exc)
    return say(
        "an unexpected error ({name}: {error})",
        name=type(exc).__name__,
        error=" ".join(str(exc).split()),
    ) + (say(" (details in {log_file})", log_file=log_file) if log_file else "")
