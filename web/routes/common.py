"""Helpers shared by the page modules."""

from __future__ import annotations

from fastapi.responses import RedirectResponse

from edge.users import need  # noqa: F401  (the page modules' name for the role check)

PAGE = 50  # rows per page in long lists


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def list_url(request, url: str) -> str | None:
    """The list's own address when a POST re-renders the list page (a form error), so its search
    box and page links do not point at the POST route; None on a GET (the links keep the query)."""
    return None if request.method == "GET" else url


def is_htmx(request) -> bool:
    """A partial update asked for by htmx (the page is already there): answer with the fragment."""
    return request.headers.get("hx-request") == "true"


def fragment_or_page(request, response):
    """Fragment endpoints answer with the fragment or the full page by the HX-Request header: say
    so to caches."""
    response.headers["Vary"] = "HX-Request"
    return response


def safe_back(back: str | None, default: str) -> str:
    """Where a form sends the browser back to: a path of this site, else ``default``. Never
    another host: "//evil.example" and "/\\evil.example" are addresses of other sites."""
    if back and back.startswith("/") and not back.startswith(("//", "/\\")):
        return back
    return default
