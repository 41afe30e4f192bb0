"""JSON API routes: parse, authorize, call a service, serialize. No business rules here.

One module per area; add a module and include its router here.
"""

from fastapi import APIRouter

from api.routes import archive, audit, auth, care, cases, cycles, inbox, plans, surveys, workbench
from api.schemas import ERRORS

router = APIRouter()
# workbench before surveys: /tasks/my-day is matched before /tasks/{task_id}. The advisors'
# calls (workbench, surveys) first: a request is matched by trying the routes in this order,
# and a task's page or close answered after ~20 tried routes instead of ~40 (profiled: route
# matching was over a tenth of the CPU of a task page). No path of one module shadows another's.
for module in (workbench, surveys, cycles, auth, plans, archive, audit, care, inbox, cases):
    # Every operation declares its error answers (ErrorOut) beside its own.
    router.include_router(module.router, responses=ERRORS)
