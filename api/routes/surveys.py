"""JSON API: surveys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api import serializers as out
from api.deps import CurrentUser, SessionDep, Supervisor, store_ids
from api.schemas import HandOverOut, ReasonCodeOut, ReassignedOut, TaskOut, TaskSummaryOut
from winback.cases import service as cases
from winback.surveys import service as surveys
from winback.surveys.schemas import (
    ComplaintAnswerIn,
    ContactAttemptIn,
    ExcludeIn,
    HandOverIn,
    ReassignIn,
    ReassignManyIn,
    SurveyResultIn,
)

router = APIRouter()


# ---- survey tasks -----------------------------------------------------------------------


@router.get("/tasks/mine", response_model=list[TaskSummaryOut], tags=["surveys"])
def my_tasks(
    user: CurrentUser,
    session: SessionDep,
    closed: bool = False,
    q: str | None = None,
    band: str | None = None,
    overdue: bool = False,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The advisor's tasks in working order, one summary line each (the whole task, with
    its attempts and answers: ``GET /api/tasks/{id}``)."""
    rows = surveys.my_tasks_page(
        session=session,
        advisor_id=user.id,
        include_closed=closed,
        search=q,
        band=band,
        overdue_only=overdue,
        offset=offset,
        page_size=limit,
        count=False,  # the list carries no total
    ).items
    return [out.task_summary(t, user) for t in rows]


@router.post("/tasks/reassign", response_model=ReassignedOut, tags=["surveys"])
def reassign_many(body: ReassignManyIn, user: Supervisor, session: SessionDep) -> dict[str, int]:
    return {
        "reassigned": surveys.reassign_many(
            session=session, task_ids=body.task_ids, to_staff_id=body.assignee_id, actor_staff=user
        )
    }


@router.get("/tasks/{task_id}", response_model=TaskOut, tags=["surveys"])
def get_task(task_id: int, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    return out.task(surveys.get_task(session=session, task_id=task_id, viewer=user), user)


@router.post("/tasks/{task_id}/attempts", response_model=TaskOut, status_code=201, tags=["surveys"])
def add_attempt(
    task_id: int, body: ContactAttemptIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    surveys.record_attempt(
        session=session,
        task_id=task_id,
        method=body.method,
        outcome=body.outcome,
        note=body.note,
        call_back_at=body.call_back_at,
        expected_version=body.expected_version,
        actor_staff=user,
    )
    return out.task(surveys.get_task(session=session, task_id=task_id, viewer=user), user)


@router.post("/tasks/{task_id}/close", response_model=TaskOut, tags=["surveys"])
def close_task(task_id: int, body: SurveyResultIn, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    data = body.model_dump()
    task = cases.close_survey(
        session=session, task_id=task_id, reason_codes_=data.pop("reasons"), actor_staff=user, **data
    )
    return out.task(task, user)


@router.put("/tasks/{task_id}/draft", response_model=TaskOut, tags=["surveys"])
def save_draft(task_id: int, body: SurveyResultIn, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    data = body.model_dump()
    task = cases.save_survey_draft(
        session=session, task_id=task_id, reason_codes_=data.pop("reasons"), actor_staff=user, **data
    )
    return out.task(task, user)


@router.post("/tasks/{task_id}/reassign", response_model=TaskOut, tags=["surveys"])
def reassign_task(task_id: int, body: ReassignIn, user: Supervisor, session: SessionDep) -> dict[str, Any]:
    return out.task(
        surveys.reassign(
            session=session,
            task_id=task_id,
            to_staff_id=body.assignee_id,
            expected_version=body.expected_version,
            actor_staff=user,
        ),
        user,
    )


@router.post("/tasks/{task_id}/exclude", response_model=TaskOut, tags=["surveys"])
def exclude_task(task_id: int, body: ExcludeIn, user: Supervisor, session: SessionDep) -> dict[str, Any]:
    return out.task(
        surveys.exclude_task(session=session, task_id=task_id, reason=body.reason, actor_staff=user), user
    )


@router.post("/tasks/{task_id}/complaint-answer", response_model=TaskOut, tags=["surveys"])
def answer_complaint(
    task_id: int, body: ComplaintAnswerIn, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    return out.task(
        cases.answer_task_complaint(session=session, task_id=task_id, answer=body.answer, actor_staff=user),
        user,
    )


@router.post("/staff/{staff_id}/hand-over", response_model=HandOverOut, tags=["surveys"])
def hand_over(
    staff_id: int, body: HandOverIn, user: CurrentUser, session: SessionDep
) -> dict[str, int | bool]:
    return surveys.hand_over_advisor(
        session=session, advisor_id=staff_id, to_staff_id=body.to_staff_id, actor_staff=user
    )


@router.get("/reason-codes", response_model=list[ReasonCodeOut], tags=["surveys"])
def reason_codes(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    return [
        {"code": r.code, "label_zh": r.label_zh, "label_en": r.label_en, "area": r.area.value}
        for r in surveys.reason_codes(session=session, store_id=store_ids(user)[0])
    ]
