"""Who is acting: a person, or the system inside a Prefect flow run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    staff_id: int | None
    label: str
    flow_run_id: str | None = None

    @classmethod
    def person(cls, staff) -> Actor:
        return cls(staff_id=staff.id, label=staff.username)

    @classmethod
    def system(cls, flow_run_id: str | None = None, label: str = "system") -> Actor:
        return cls(staff_id=None, label=label, flow_run_id=flow_run_id)
