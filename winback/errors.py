"""Domain errors. Each carries a stable ``code`` that the UI translates, and a plain message."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field


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
