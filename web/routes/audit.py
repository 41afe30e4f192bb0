"""Customer pages and the auditor's timelines."""
from __future__ import annotations


from fastapi import APIRouter, Request

from api.deps import CurrentUser, SessionDep, store_ids
from web import render
from web.routes.common import need as _need, see_other as _see_other
from winback.accounts.models import Role
from winback.audit import service as audit
from winback.customers import service as customers
from winback.cycles import service as cycles
from winback.errors import Forbidden
from winback.surveys import service as surveys

router = APIRouter(include_in_schema=False)


# ---- customers and audit ----------------------------------------------------------------

@router.get("/customers/{customer_id}")
def customer_page(request: Request, customer_id: int, user: CurrentUser, session: SessionDep):
    customer = customers.get_customer(session=session, customer_id=customer_id, store_ids=store_ids(user))
    # the advisor's own task for this customer, if any (it unmasks the phone for them)
    task = next((t for t in surveys.my_tasks(session=session, advisor_id=user.id, include_closed=True)
                 if t.customer_id == customer.id), None)
    if task is None and not user.has_role(Role.admin, Role.supervisor, Role.manager, Role.auditor):
        raise Forbidden("this customer is not one of yours")  # an advisor sees their own customers only
    return render(request, "customers/detail.html", user=user, customer=customer, task=task,
                  visits=customers.visits_of(session=session, customer_id=customer.id),
                  events=audit.timeline(session=session, store_ids=store_ids(user), entity_type="customer", entity_id=customer.id))


@router.get("/audit")
def audit_home(request: Request, user: CurrentUser, session: SessionDep):
    _need(user, Role.auditor, Role.admin, Role.manager)
    return render(request, "audit/index.html", user=user,
                  events=audit.recent(session=session, store_ids=store_ids(user), limit=100))


@router.get("/audit/{entity_type}/{entity_id}")
def audit_timeline(request: Request, entity_type: str, entity_id: int, user: CurrentUser, session: SessionDep):
    _need(user, Role.auditor, Role.admin, Role.manager)
    events = audit.timeline(session=session, store_ids=store_ids(user), entity_type=entity_type, entity_id=entity_id)
    runs = []
    if entity_type == "cycle":
        runs = cycles.flow_runs_of(session=session, store_ids=store_ids(user), cycle_id=entity_id)
    return render(request, "audit/timeline.html", user=user, events=events, entity_type=entity_type,
                  entity_id=entity_id, runs=runs)


@router.get("/audit-lookup")
def audit_lookup(user: CurrentUser, entity_type: str = "customer", entity_id: int = 0):
    _need(user, Role.auditor, Role.admin, Role.manager)
    return _see_other(f"/audit/{entity_type}/{entity_id}")
