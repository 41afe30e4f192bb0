"""Customer pages and the auditor's timelines."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request

from edge.locale import page_locale
from edge.session import SessionDep
from edge.users import CurrentUser, store_ids
from edge.xlsx import xlsx_response
from web import render
from web.routes.archive import notes_context
from web.routes.care import care_context
from web.routes.common import PAGE
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback import clock
from winback.accounts.models import Role
from winback.actor import Actor
from winback.audit import service as audit
from winback.audit.export import events_xlsx
from winback.customers import contact_masking, contacts, privacy
from winback.customers import service as customers
from winback.customers.models import VehicleStatus
from winback.cycles import flow_runs
from winback.errors import InvalidInput
from winback.paging import Page
from winback.plans import complaints
from winback.surveys import service as surveys

router = APIRouter(include_in_schema=False)


# ---- customers and audit ----------------------------------------------------------------


@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: int, user: CurrentUser, session: SessionDep):
    customer = customers.get_customer(session=session, customer_id=customer_id, store_ids=store_ids(user))
    # the advisor's own task for this customer, if any (it unmasks the phone for them)
    task = surveys.task_of_customer(session=session, advisor_id=user.id, customer_id=customer.id)
    surveys.require_customer_access(session=session, viewer=user, customer_id=customer.id)
    return render(
        request,
        "customers/detail.html",
        user=user,
        customer=customer,
        task=task,
        visits=customers.visits_of(session=session, customer_id=customer.id),
        phone_history=contacts.phone_history(session=session, customer_id=customer.id),
        statuses=list(VehicleStatus),
        **care_context(session, customer.id),
        **notes_context(request, session, customer.id, f"/customers/{customer.id}"),
        events=audit.timeline(
            session=session, store_ids=store_ids(user), entity_type="customer", entity_id=customer.id
        ),
    )


def _filters(actor: str, action: str, since: str, until: str) -> dict:
    """The audit page's filters, parsed; a bad date is a clear error."""
    out = {"actor": actor.strip() or None, "action": action.strip() or None, "since": None, "until": None}
    for key, value in (("since", since), ("until", until)):
        if value.strip():
            try:
                out[key] = date.fromisoformat(value.strip())
            except ValueError:
                raise InvalidInput(
                    "{key}: not a date (YYYY-MM-DD): '{value}'", key=key, value=value, field=key
                ) from None
    return out


@router.get("/audit")
def audit_home(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    _need(user, Role.auditor, Role.admin, Role.manager)
    form = {"actor": actor, "action": action, "since": since, "until": until}
    try:
        events = audit.search_page(
            session=session,
            store_ids=store_ids(user),
            page=page,
            page_size=PAGE,
            **_filters(actor, action, since, until),
        )
        error = None
    except InvalidInput as exc:
        events, error = Page([], 0, filtered=True), exc.message
    return render(
        request,
        "audit/index.html",
        user=user,
        events=events,
        form=form,
        error=error,
        export_query=urlencode(form),
        status_code=422 if error else 200,
    )


@router.get("/audit/export.xlsx")
def audit_export(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
):
    """The filtered events as XLSX (up to 50,000 rows); the export is itself an audit event."""
    _need(user, Role.auditor, Role.admin, Role.manager)
    filters = _filters(actor, action, since, until)
    events = audit.search(session=session, store_ids=store_ids(user), limit=50_000, **filters)
    plain = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in filters.items() if v}
    audit.record_export(
        session=session,
        actor=Actor.person(user),
        store_id=store_ids(user)[0],
        what="audit events",
        filters=plain,
        rows=len(events),
    )
    body = events_xlsx(
        events,
        exported_by=user.username,
        filters=plain,
        locale=page_locale(request, user),
        shown_changes=lambda changes: contact_masking.changes_for(changes, user),
    )
    return xlsx_response(body, f"audit-{clock.today().isoformat()}.xlsx")


@router.get("/audit/complaints")
def audit_complaints(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    _need(user, Role.auditor, Role.admin, Role.manager)
    return render(
        request,
        "audit/complaints.html",
        user=user,
        q=q,
        rows=complaints.complaints_page(
            session=session,
            store_ids=store_ids(user),
            search=q,
            page=page,
            by_phone=privacy.may_see_contact(user),
            page_size=PAGE,
        ),
        reason_by_code=surveys.reasons_by_code(session=session, store_ids=store_ids(user)),
    )


@router.get("/audit/{entity_type}/{entity_id}")
def audit_timeline(
    request: Request, entity_type: str, entity_id: int, user: CurrentUser, session: SessionDep
):
    _need(user, Role.auditor, Role.admin, Role.manager)
    events = audit.timeline(
        session=session, store_ids=store_ids(user), entity_type=entity_type, entity_id=entity_id
    )
    runs = []
    if entity_type == "cycle":
        runs = flow_runs.flow_runs_of(session=session, store_ids=store_ids(user), cycle_id=entity_id)
    return render(
        request,
        "audit/timeline.html",
        user=user,
        events=events,
        entity_type=entity_type,
        entity_id=entity_id,
        runs=runs,
    )


@router.get("/audit-lookup")
def audit_lookup(user: CurrentUser, entity_type: str = "customer", entity_id: int = 0):
    _need(user, Role.auditor, Role.admin, Role.manager)
    return _see_other(f"/audit/{entity_type}/{entity_id}")
