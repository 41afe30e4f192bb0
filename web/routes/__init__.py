"""Staff pages: parse the form, authorize, call the service, render. No business rules here.

One module per area; add a module and include its router here.
"""

from fastapi import APIRouter

from web.routes import (
    admin,
    analytics,
    archive,
    audit,
    auth,
    care,
    cycles,
    inbox,
    plans,
    reasons,
    tasks,
)

router = APIRouter(include_in_schema=False)
for module in (auth, analytics, cycles, tasks, plans, audit, archive, admin, reasons, care, inbox):
    router.include_router(module.router)
