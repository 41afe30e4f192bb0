"""JSON API routes: parse, authorize, call a service, serialize. No business rules here.

One module per area; add a module and include its router here.
"""

from fastapi import APIRouter

from api.routes import archive, audit, auth, care, cases, cycles, inbox, plans, surveys, workbench
from api.schemas import ERRORS

router = APIRouter()
# workbench before surveys: /tasks/my-day is matched before /tasks/{task_id}.
for module in (auth, cycles, workbench, surveys, plans, archive, audit, care, inbox, cases):
    # Every operation declares its error answers (ErrorOut) beside its own.
    router.include_router(module.router, responses=ERRORS)
