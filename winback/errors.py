"""Domain errors: a stable ``code``, and a message in the one catalog with its parameters.

The domain raises with the English text as the message id and the values as parameters,
``raise NotFound("task {id} not found", id=task_id)``, never a formatted sentence, so the edge
can say it in the reader's language: ``exc.message`` is a ``winback.i18n.Message`` (it reads as
the English text; ``exc.message.translate(locale)`` in any language). The API's error handler,
the pages (``_(error)``) and the CLI translate it. ``pybabel extract`` finds these texts because
the error classes are keywords of the extraction (``[tool.babel]`` in pyproject.toml); a text
held in a variable is marked with ``N_``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from winback.i18n import N_, Message


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None, **params: Any):
        self.message = message if isinstance(message, Message) else Message(message, **params)
        super().__init__(str(self.message))
        if code:
            self.code = code
        self.field = field

    def __reduce__(self):  # pickled (a flow's failure): the message keeps its id and parameters
        return (_rebuild, (type(self), self.message, self.code, self.field))


def _rebuild(cls: type[DomainError], message: Message, code: str, field: str | None) -> DomainError:
    return cls(message, code=code, field=field)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    """The thing changed under you: someone else closed the task, the plan was decided..."""

    status = 409
    code = "conflict"


class InvalidInput(DomainError):
    status = 422
    code = "invalid"


# pydantic's error types a setting or a form value can hit, in words of the catalog (pydantic's
# own sentences are English only).
_VALIDATION = {
    "int_parsing": N_("not a whole number"),
    "int_from_float": N_("not a whole number"),
    "int_type": N_("not a whole number"),
    "float_parsing": N_("not a number"),
    "float_type": N_("not a number"),
    "bool_parsing": N_("not yes or no (true or false)"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "list_type": N_("must be a list"),
    "string_type": N_("must be text"),
    "missing": N_("a value is required"),
}


def validation_problem(error: Mapping[str, Any]) -> Message:
    """One pydantic error (an item of ``ValidationError.errors()``) as a message of the catalog;
    a validator's ``ValueError`` text is taken as its message id (marked with ``N_`` where written)."""
    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind in _VALIDATION:
        return Message(
            _VALIDATION[kind], **{k: str(v) for k, v in ctx.items() if k in ("gt", "ge", "lt", "le")}
        )
    if kind == "value_error" and ctx.get("error") is not None:
        return Message(str(ctx["error"]))
    return Message(str(error.get("msg", "")))
