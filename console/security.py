"""Sessions, roles and CSRF for the pages; headers that keep a browser from doing more.

The cookie is signed (Starlette's `SessionMiddleware`, itsdangerous): HttpOnly, SameSite=Lax,
Secure when configured. It carries a session id and a CSRF token; the session itself is a row
in the store (`console.sessions`), read on every page with its user, so a logout, a disabled
user, a changed role, the absolute and the idle limit take effect at once. Every POST form
carries the CSRF token and is refused without it. The signing secret must be a real key
(`reports.keys.check_key`): 32 bytes or more, no placeholder.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from console import sessions
from console.auth import Role, User
from reports.keys import check_key

log = logging.getLogger("riskmon.console")
SESSION_COOKIE = "riskmon_session"
SECRET_SETTING = "RISKMON_CONSOLE_SECRET"  # noqa: S105 - the setting's name

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


def check_secret(secret: str) -> str:
    """The cookie-signing secret, if it is a real key (ValueError naming the setting if not)."""
    return check_key(SECRET_SETTING, secret)


def current_user(request: Request) -> User | None:
    """The user of the request's live session (None: no session, or one that has ended)."""
    session_id = request.session.get("sid")
    if not isinstance(session_id, str):
        return None
    console = request.app.state.console
    with console.engine.begin() as connection:
        user = sessions.live_user(connection, session_id, console.now(), console.limits)
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

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            # Starlette's own 500 comes from outside this middleware, without the headers;
            # answer here instead. The log names the error's type only: its text may hold
            # what the request carried.
            log.error("unexpected %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            if started:
                raise
            await _SERVER_ERROR(scope, receive, send_with_headers)


_SERVER_ERROR = PlainTextResponse("the console met an unexpected error; it is logged", 500)
