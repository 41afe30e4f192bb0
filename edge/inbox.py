"""What the inbox links a message to (a page of the site), shared by the pages and the API."""

from __future__ import annotations

from winback.notifications.models import Notification

# subject_type -> the page; "{id}" is the subject's id. A type without an id is a list.
_PAGES = {
    "task": "/tasks/{id}",
    "tasks": "/tasks",
    "plan": "/plans/{id}",
    "measure": "/measures",
    "measures": "/measures",
    "cycle": "/cycles/{id}",
    "cycles": "/cycles",
    "evaluation": "/cycles/{id}/report",
    "analytics": "/analytics",
    "complaint": "/complaints/{id}",
    "care_calls": "/care/calls",
}


def link_for(note: Notification) -> str | None:
    """The page a message is about, or None (a test message, an older message without one)."""
    page = _PAGES.get(note.subject_type or "")
    if page is None or ("{id}" in page and note.subject_id is None):
        return None
    return page.format(id=note.subject_id)
