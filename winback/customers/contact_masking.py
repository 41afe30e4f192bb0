"""Contact data inside recorded facts (the audit trail's changes, an import's rejected cell),
masked for a reader who sees numbers masked elsewhere (``privacy.may_see_contact``).

The audit keeps the full value as it happened; it is masked when read: on the audit pages,
the customer page, the audit API and the audit export. A value is contact data when its key
is ``phone`` or ``address`` (or ends in ``_phone`` / ``_address``), at any depth, including
a ``{"before": ..., "after": ...}`` pair under such a key (an import that changed a number,
a merge that filled one in)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from winback.customers.privacy import mask_address, mask_phone, may_see_contact

_MASKS: dict[str, Callable[[str | None], str | None]] = {"phone": mask_phone, "address": mask_address}


def mask_for_key(key: Any) -> Callable[[str | None], str | None] | None:
    """The mask for a value stored under ``key``, or None when it is not contact data."""
    if not isinstance(key, str):
        return None
    low = key.lower()
    for name, mask in _MASKS.items():
        if low == name or low.endswith("_" + name):
            return mask
    return None


def _masked(value: Any, mask: Callable[[str | None], str | None]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _masked(v, mask) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, mask) for v in value]
    return value


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            mask = mask_for_key(k)
            out[k] = _masked(v, mask) if mask else _walk(v)
        return out
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


def changes_for(changes: Any, viewer: Any, task: Any = None) -> Any:
    """An audit event's ``changes`` as ``viewer`` may read them (a copy when masked)."""
    if may_see_contact(viewer, task):
        return changes
    return _walk(changes)


def cell_for(value: str | None, field: str | None, viewer: Any) -> str | None:
    """A rejected import cell of ``field`` as ``viewer`` may read it."""
    mask = mask_for_key(field)
    if mask is None or may_see_contact(viewer):
        return value
    return mask(value)
