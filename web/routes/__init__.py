"""Staff pages: parse the form, authorize, call the service, render. No business rules here.

One module per area; add a module and include its router here.
"""

from fastapi import APIRouter, Depends

from web.routes import (
    admin,
    analytics,
    archive,
    audit,
    auth,
    care,
    cases,
    cycles,
    inbox,
    plans,
    reasons,
    setup,
    tasks,
    workbench,
)

# Before the first-run set-up, every page leads to it (web/routes/setup.py).
router = APIRouter(include_in_schema=False, dependencies=[Depends(setup.gate)])
for module in (
    setup,
    auth,
    analytics,
    cycles,
    tasks,
    plans,
    audit,
    archive,
    admin,
    reasons,
    care,
    inbox,
    workbench,
    cases,
):
    router.include_router(module.router)
