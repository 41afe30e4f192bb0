"""JSON API routes: parse, authorize, call a service, serialize. No business rules here.

One module per area; add a module and include its router here.
"""

from fastapi import APIRouter

from api.routes import archive, audit, auth, care, cases, cycles, inbox, plans, surveys
from api.schemas import ERRORS

router = APIRouter()
for module in (auth, cycles, surveys, plans, archive, audit, care, inbox, cases):
    # Every operation declares its error answers (ErrorOut) beside its own.
    router.include_router(module.router, responses=ERRORS)
