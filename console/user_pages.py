"""The supervisors' page of users (list, disable, enable, new password, remove), each change in
the audit trail; and the language switch in every page's header."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse

from console import accounts, audit
from console.auth import NAME, AuthError, User, disable_user
from console.pages import _safe_next, render, say
from console.security import check_csrf, current_user, remote, require

router = APIRouter(include_in_schema=False)
Supervisor = Annotated[User, Depends(require("supervisor"))]
UserName = Annotated[str, InPath(min_length=1, max_length=64, pattern=NAME.pattern)]
Change = Literal["disable", "enable", "reset", "remove"]


@router.get("/users")
def users_page(request: Request, user: Supervisor) -> HTMLResponse:
    with request.app.state.console.engine.connect() as connection:
        rows = accounts.list_users(connection)
    return render(request, "users.html", users=rows)


@router.post("/users/{name}/{change}")
def change_user(
    request: Request,
    user: Supervisor,
    name: UserName,
    change: Change,
    csrf_token: Annotated[str, Form(max_length=128)],  # required: a form without it is a 422
    password: Annotated[str, Form(max_length=1024)] = "",
) -> RedirectResponse:
    check_csrf(request, csrf_token)
    if name == user.name and change in ("disable", "remove"):
        raise HTTPException(409, say(request, "u_not_self"))
    console = request.app.state.console
    now = console.now()
    detail: dict[str, object] = {}
    try:
        with console.engine.begin() as connection:
            if change == "disable":
                detail["sessions_ended"] = ended = disable_user(connection, name, now)
                message = say(request, "u_done_disable", name=name, n=ended)
            elif change == "enable":
                accounts.enable_user(connection, name)
                message = say(request, "u_done_enable", name=name)
            elif change == "reset":
                ended = accounts.reset_password(connection, name, password, now)
                detail["sessions_ended"] = ended
                message = say(request, "u_done_reset", name=name, n=ended)
            else:
                accounts.remove_user(connection, name)
                message = say(request, "u_done_remove", name=name)
            audit.record(
                connection,
                user.name,
                f"user_{change}",
                role=user.role,
                target=name,
                detail=detail or None,
                remote=remote(request),
                at=now,
            )
    except AuthError as exc:
        # an unknown user, one disabled already, a password too easy to guess: said, not done
        raise HTTPException(422, str(exc)) from None
    request.session["flash"] = message
    return RedirectResponse("/users", 303)


@router.post("/language")
def choose_language(
    request: Request,
    lang: Annotated[Literal["zh", "en"], Form()],
    next: Annotated[str, Form(max_length=2048)] = "/",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> RedirectResponse:
    """The console's language: kept as the user's setting, or before a login in the session."""
    check_csrf(request, csrf_token)
    user = current_user(request)
    if user is None:
        request.session["lang"] = lang
    else:
        with request.app.state.console.engine.begin() as connection:
            accounts.set_language(connection, user.name, lang)
            audit.record(
                connection,
                user.name,
                "language",
                role=user.role,
                detail={"lang": lang},
                remote=remote(request),
            )
    return RedirectResponse(_safe_next(next), 303)
