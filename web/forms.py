"""A refused form, handled in one place.

A page route that posts a form names how its form is shown again (``@form(show_again)``)
and does not catch anything: when its input is refused (a ``FormError`` it raises, a
``DomainError`` from a service other than 403/404, a pydantic ``ValidationError``, or FastAPI's
``RequestValidationError`` when the form does not parse into its schema), the exception
leaves the route, the request's session rolls back as it passes through the session
dependency (so nothing half-done is committed), and the app's handler calls ``shown_again``
here: a fresh session, the person, the posted input and the message, the form again.

``show_again(request, user, session, *, error, status, form, **path_params)`` gets the posted
fields (``form``: Starlette's FormData, ``.get``/``.getlist``) and the path's parameters as
text, and returns the page (or, for a list's inline form, a message and a redirect back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData

from db.session import session_scope
from edge.users import optional_user
from winback.errors import DomainError
from winback.i18n import N_, Message

ShowAgain = Callable[..., Any]


class FormError(Exception):
    """The posted input is refused: show the form again with ``message``."""

    def __init__(self, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def form(
    show_again: ShowAgain,
    *,
    passthrough: Iterable[int] = (403, 404),
    messages: Mapping[str, str] | None = None,
):
    """Route decorator: how the route's form is shown again when its input is refused.
    Domain errors with a status in ``passthrough`` stay error pages; ``messages`` words a
    field's error instead of pydantic: ``"field"`` any error of it, ``"field.missing"`` (the
    pydantic error type after the dot) only that one."""

    def mark(route):
        route.__form__ = (show_again, frozenset(passthrough), dict(messages or {}))
        return route

    return mark


# pydantic's own errors in words of the catalog (its English "String should have at most 500
# characters" would reach a Chinese page as it is); other types keep pydantic's text.
PYDANTIC_WORDS = {
    "string_too_long": N_("The text is too long: at most {max_length} characters"),
    "string_too_short": N_("The text is too short: at least {min_length} characters"),
    "too_short": N_("Choose at least {min_length}"),
    "missing": N_("A required field is empty"),
    "int_parsing": N_("Enter a whole number"),
    "decimal_parsing": N_("Enter a number"),
    "float_parsing": N_("Enter a number"),
    "date_from_datetime_parsing": N_("Enter a date"),
    "date_parsing": N_("Enter a date"),
    "greater_than": N_("The number must be greater than {gt}"),
    "greater_than_equal": N_("The number must be at least {ge}"),
    "less_than_equal": N_("The number must be at most {le}"),
    "enum": N_("Choose one of the listed values"),
    "literal_error": N_("Choose one of the listed values"),
}


def _pydantic_words(error: Mapping[str, Any]) -> str:
    msgid = PYDANTIC_WORDS.get(error.get("type", ""))
    if msgid is None:
        return error["msg"]
    ctx = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, (int, float, str))}
    try:
        return Message(msgid, **ctx)
    except (KeyError, IndexError):
        return error["msg"]


def error_text(exc: BaseException, messages: Mapping[str, str] | None = None) -> str:
    """The one wording of a refused input: the domain's message, or the schema's errors joined."""
    if isinstance(exc, (FormError, DomainError)):
        return exc.message
    if isinstance(exc, (ValidationError, RequestValidationError)):
        texts: list[str] = []
        for e in exc.errors():
            field = str(e["loc"][-1]) if e.get("loc") else ""
            words = messages or {}
            text = words.get(f"{field}.{e['type']}") or words.get(field) or _pydantic_words(e)
            if text not in texts:
                texts.append(text)
        return texts[0] if len(texts) == 1 else "; ".join(texts)  # one error keeps its Message
    return "The input is not valid"


def _form_of(request: Request):
    return getattr(request.scope.get("endpoint"), "__form__", None)


async def shown_again(request: Request, exc: BaseException):
    """The form again for a refused input, or None when the route has no form (or the error
    is one its form does not show: a 403 or 404)."""
    declared = _form_of(request)
    if declared is None:
        return None
    show_again, passthrough, messages = declared
    status = getattr(exc, "status", 422)
    if status in passthrough:
        return None
    posted = getattr(exc, "body", None)
    if not isinstance(posted, FormData):
        posted = await request.form()  # parsed once by the route's request: read again from memory
    params = dict(request.path_params)
    message = error_text(exc, messages)

    def render():
        # The request's own session rolled back as the error left the route; this one reads.
        with session_scope() as session:
            user = optional_user(request, session)
            try:
                return show_again(request, user, session, error=message, status=status, form=posted, **params)
            except (DomainError, ValueError, TypeError):
                # The form cannot be shown (its page's own field is missing or names nothing):
                # the plain error page says what was refused.
                return None

    return await run_in_threadpool(render)
