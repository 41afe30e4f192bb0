"""HTTP-level protections for the whole app (pages and API alike), as plain ASGI middleware.

* ``OriginCheck`` - CSRF defence by verifying the Origin header (or Referer when there is no
  Origin) of every state-changing request against the request's own host (OWASP's "verify
  origin with standard headers"), together with the SameSite=Lax session cookie. Requests
  authenticated by an API token (``Authorization: Bearer``, no cookie) are exempt: a browser
  cannot attach that header cross-site. No tokens in templates, so every form is covered.
* ``SecurityHeaders`` - CSP without inline scripts, X-Frame-Options, Referrer-Policy,
  X-Content-Type-Options on every response.
"""

from __future__ import annotations

import json
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SESSION_COOKIE = "winback_session"

HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]
# Swagger UI (the API docs page) loads its script from a CDN and starts it inline.
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    b"frame-ancestors 'none'"
)


def _headers(scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers", [])}


def _origin_of(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


def cross_origin_reason(scope) -> str | None:
    """Why this request must be refused as a possible CSRF, or None when it may pass."""
    if scope.get("method", "GET").upper() not in UNSAFE_METHODS:
        return None
    headers = _headers(scope)
    cookie = headers.get(b"cookie", b"").decode("latin-1")
    has_session = SESSION_COOKIE in SimpleCookie(cookie) if cookie else False
    if headers.get(b"authorization", b"").lower().startswith(b"bearer ") and not has_session:
        return None  # an API token, not ambient browser credentials
    source = headers.get(b"origin") or headers.get(b"referer")
    if not source or source == b"null":
        # Browsers always send Origin on cross-site POSTs; a request without either header
        # is not from a browser form, unless it carries the session cookie.
        return "the request has no Origin or Referer header" if has_session else None
    origin = _origin_of(source.decode("latin-1"))
    host = headers.get(b"host", b"").decode("latin-1").lower()
    if origin is None or origin[1] != host:
        return "cross-origin request refused"
    return None


class OriginCheck:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            reason = cross_origin_reason(scope)
            if reason is not None:
                body = json.dumps({"detail": reason, "code": "csrf"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *HEADERS,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith("/api/docs")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (k, DOCS_CSP if docs and k == b"content-security-policy" else v)
                    for k, v in HEADERS
                    if k not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
