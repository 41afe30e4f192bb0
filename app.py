"""The web application: JSON API at /api, staff pages at /."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from api.errors import error_body
from api.routes import router as api_router
from db.session import configure, is_configured
from edge.limit import RequestLimit
from edge.users import MustChangePassword, NotLoggedIn
from web import render_error
from web.forms import FormError, error_text, shown_again
from web.routes import router as web_router
from web.routes.common import is_htmx
from web.routes.setup import SetupNeeded
from web.security import OriginCheck, SecurityHeaders
from winback.config import get_settings
from winback.errors import DomainError
from winback.i18n import N_

log = logging.getLogger("winback.app")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


async def _form_or_error_page(request: Request, exc: Exception, status: int, message: str | None):
    """A page's refused form shown again (web/forms.py), else the error page."""
    shown = await shown_again(request, exc)
    return shown if shown is not None else render_error(request, status, message)


def _error(request: Request, message: str, **kwargs) -> dict:
    """The API's error body in the caller's language (winback.i18n's one catalog)."""
    return error_body(request, message, **kwargs)


def create_app() -> FastAPI:
    settings = get_settings()
    if not is_configured():  # tests bind their own database first
        configure(settings.database_url)
    app = FastAPI(
        title="winback",
        description="Win back the customers who stopped bringing their cars in.",
        version="0.1.0",
        docs_url="/api/docs",
        redoc_url=None,
        swagger_ui_parameters={"syntaxHighlight": False},
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="winback_session",
        same_site="lax",
        https_only=settings.https_only,
        max_age=settings.session_max_hours * 3600,
    )
    app.add_middleware(RequestLimit, limit=settings.web_requests_per_process)
    # Outermost: refuse cross-origin writes before anything runs; add the security headers.
    app.add_middleware(OriginCheck)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    favicon = Path(__file__).parent / "web" / "static" / "favicon.svg"

    @app.get("/favicon.ico", include_in_schema=False)
    def _favicon() -> FileResponse:
        # Browsers ask for it by themselves on pages without <link rel="icon"> (JSON, files).
        return FileResponse(favicon, media_type="image/svg+xml")

    app.include_router(api_router, prefix="/api")
    app.include_router(web_router)

    @app.exception_handler(SetupNeeded)
    async def _setup_needed(request: Request, _exc: SetupNeeded):
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": "/setup"})
        return RedirectResponse("/setup", status_code=303)

    @app.exception_handler(MustChangePassword)
    async def _must_change_password(request: Request, _exc: MustChangePassword):
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": "/account/password"})
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(NotLoggedIn)
    async def _not_logged_in(request: Request, _exc: NotLoggedIn):
        if _wants_json(request):
            return JSONResponse(_error(request, "log in first", code="not_logged_in"), status_code=401)
        if is_htmx(request):
            # A partial update (a polling fragment) after the session ended: the whole page goes
            # to the log-in, and back to the page afterwards, not to the fragment.
            page = urlsplit(request.headers.get("hx-current-url", "")).path or "/"
            return Response(status_code=204, headers={"HX-Redirect": f"/login?next={quote(page)}"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError):
        if _wants_json(request):
            return JSONResponse(
                _error(request, exc.message, code=exc.code, field=exc.field), status_code=exc.status
            )
        return await _form_or_error_page(request, exc, exc.status, exc.message)

    @app.exception_handler(FormError)
    @app.exception_handler(ValidationError)
    async def _refused_form(request: Request, exc: Exception):
        # A page's form refused (web/forms.py): shown again with the input and the message.
        if _wants_json(request):
            return JSONResponse(_error(request, error_text(exc), code="invalid"), status_code=422)
        return await _form_or_error_page(request, exc, 422, error_text(exc))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if _wants_json(request):
            return JSONResponse(
                _error(request, exc.detail, status=exc.status_code),
                status_code=exc.status_code,
                headers=exc.headers,
            )
        return render_error(request, exc.status_code, None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]} for e in exc.errors()
        ]
        if _wants_json(request):
            return JSONResponse(
                _error(request, "invalid input", code="invalid", errors=errors), status_code=422
            )
        return await _form_or_error_page(
            request, exc, 422, "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        )

    from sqlalchemy.exc import DataError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, exc: Exception):
        # e.g. /api/cycles/99999999999999: an id no column can hold (found by schemathesis)
        message = N_("a value is out of range")
        if _wants_json(request):
            return JSONResponse(_error(request, message, code="invalid"), status_code=422)
        return render_error(request, 422, message)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError):
        log.warning("database error on %s: %s", request.url.path, exc)
        message = "the database is not reachable right now; please try again in a moment"
        if _wants_json(request):
            return JSONResponse(_error(request, message, code="db_unavailable"), status_code=503)
        return render_error(request, 503, message)

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout):
        # Every pooled connection stayed in use for the pool's whole wait (db/session.py): a
        # moment's overload, not a fault. Said as such, in the person's language, not a 500.
        log.warning("no free database connection for %s: %s", request.url.path, exc)
        message = N_("the server is busy right now; please try again in a moment")
        retry = {"Retry-After": "1"}
        if _wants_json(request):
            return JSONResponse(_error(request, message, code="busy"), status_code=503, headers=retry)
        response = render_error(request, 503, message)
        response.headers.update(retry)
        return response

    return app
