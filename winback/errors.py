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

from typing import Any

from winback.i18n import Message


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
