"""Sessions, roles and CSRF for the pages; headers that keep a browser from doing more.

A session is a signed cookie (Starlette's `SessionMiddleware`, itsdangerous): HttpOnly,
SameSite=Lax, Secure when configured. It names the user and holds a CSRF token; the user is
read from the store on every page, so a disabled user or a changed role takes effect at once.
Every POST form carries the token and is refused without it.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console.auth import Role, User, load_user

SESSION_COOKIE = "riskmon_session"
SESSION_HOURS = 8  # a working day; after it, log in again

# Pages load scripts, styles and images from the console itself only, and no one frames them.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class NotLoggedIn(Exception):
    """Raised by the page guard; answered with a redirect to the login page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def login_redirect_target(path: str) -> str:
    return "/login?next=" + quote(path, safe="/")


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, token: str | None) -> None:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not token or not hmac.compare_digest(expected, token):
        raise HTTPException(403, "the form is stale or forged (CSRF token): reload the page")


def current_user(request: Request) -> User | None:
    name = request.session.get("user")
    if not isinstance(name, str):
        return None
    with request.app.state.console.engine.connect() as connection:
        user = load_user(connection, name)
    if user is None:
        request.session.clear()
    return user


def require(*roles: Role) -> Callable[[Request], User]:
    """A page dependency: the logged-in user, if their role is one of `roles`."""

    def guard(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise NotLoggedIn(request.url.path)
        if user.role not in roles:
            raise HTTPException(403, f"a {user.role} may not open this page")
        request.state.user = user
        return user

    return guard


def remote(request: Request) -> str | None:
    return request.client.host if request.client else None


class SecurityHeaders:
    """Adds the headers above to every response (pure ASGI: no cost on the decision API's
    request body, unlike a `BaseHTTPMiddleware`). A response may set its own CSP."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in names)
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
