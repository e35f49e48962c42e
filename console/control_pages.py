"""The supervisors' page of controls (`/controls`, 管控措施): list them, add one, lift one, and
the two-person rule for the controls that stop the most money at once.

Who: a supervisor adds, lifts, approves and refuses; an analyst sees the page and has no form;
the bureau neither sees nor acts (the controls name the platform's entities, some before any
verdict). A reason is required for every act. Pausing a programme or a budget line and blocking
a merchant are requested, and issued only when a *different* supervisor approves
(console/control_register.py); every other control is issued at once. Each act is one
transaction with its audit row; the record then goes out through the outbox.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import control_register as register
from console.auth import User
from console.merchant_controls import waiting
from console.pages import render
from console.security import check_csrf, remote, require
from reports.bureau_words import word
from schemas.controls import ACTIONS_BY_KIND, CONTROL_KINDS, HASHED_KINDS
from schemas.pseudonyms import mask_hash

router = APIRouter(include_in_schema=False)
Staff = Annotated[User, Depends(require("analyst", "supervisor"))]
Supervisor = Annotated[User, Depends(require("supervisor"))]
ControlId = Annotated[str, InPath(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Short = Annotated[str, Form(max_length=128)]
Text = Annotated[str, Form(max_length=1000)]
Csrf = Annotated[str, Form(max_length=128)]
LANG: Literal["zh", "en"] = "zh"
_DURATION = re.compile(r"^(\d{1,4})([hd])$")


def _w(key: str) -> str:
    return word(key, LANG)


def _console(request: Request) -> Any:
    return request.app.state.console


def _done(request: Request, message: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse("/controls", 303)


def _time(text: str, now: datetime, timezone: tzinfo, what: str) -> datetime:
    """A time typed in the form: ISO 8601, in the programme's time zone without an offset."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HTTPException(422, f"{what}: a date and time such as 2026-08-01T09:00") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone)


def when(
    effective: str, expires: str, now: datetime, timezone: tzinfo
) -> tuple[datetime, datetime | None]:
    """The form's effective time (blank: now) and expiry (blank: until lifted; 12h, 7d, or a
    time)."""
    start = now if not effective.strip() else _time(effective, now, timezone, "effective")
    text = expires.strip()
    if not text:
        return start, None
    found = _DURATION.fullmatch(text)
    if found:
        unit = timedelta(hours=1) if found.group(2) == "h" else timedelta(days=1)
        return start, start + int(found.group(1)) * unit
    return start, _time(text, now, timezone, "expires")


@router.get("/controls")
def control_list(request: Request, user: Staff) -> HTMLResponse:
    console = _console(request)
    with console.engine.connect() as connection:
        rows = register.listing(connection, console.now())
        outbox = waiting(connection)
    # a person's pseudonym is shown masked, as on every page (the control id names the control)
    rows = [replace(r, key=mask_hash(r.key)) if r.kind in HASHED_KINDS else r for r in rows]
    return render(
        request,
        "controls.html",
        rows=rows,
        outbox=outbox,
        kinds=CONTROL_KINDS,
        actions={k: sorted(a - {"lift"}) for k, a in ACTIONS_BY_KIND.items()},
        two_person=sorted(register.TWO_PERSON),
    )


@router.post("/controls")
def control_add(
    request: Request,
    user: Supervisor,
    kind: Short,
    key: Short,
    action: Short,
    reason: Text = "",
    effective: Short = "",
    expires: Short = "",
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    console = _console(request)
    now = console.now()
    if action == "lift":
        raise HTTPException(422, "a lift is made on the control it ends")
    start, until = when(effective, expires, now, console.timezone)
    try:
        with console.engine.begin() as connection:
            control = register.build(
                register.next_id(connection, now, console.timezone),
                kind,
                key,
                action,
                reason,
                user.name,
                issued_at=now,
                effective_from=start,
                expires_at=until,
                timezone=console.timezone,
            )
            second = register.needs_second(kind, action)
            act = register.request if second else register.issue
            act(
                connection,
                control,
                actor=user.name,
                role=user.role,
                now=now,
                remote=remote(request),
            )
    except register.ControlError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    if second:
        return _done(request, f"{control.control_id}: {_w('c_requested')}")
    request.app.state.controls.flush()
    return _done(request, f"{control.control_id}: {_w('c_issued')}")


@router.post("/controls/{control_id}/lift")
def control_lift(
    request: Request,
    user: Supervisor,
    control_id: ControlId,
    csrf_token: Csrf,  # required: a post without it is refused as invalid, before any look-up
    reason: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    console = _console(request)
    now = console.now()
    try:
        with console.engine.begin() as connection:
            lift = register.lift_of(
                connection,
                control_id,
                reason,
                user.name,
                now=now,
                effective_from=None,
                timezone=console.timezone,
            )
            register.issue(
                connection, lift, actor=user.name, role=user.role, now=now, remote=remote(request)
            )
    except register.ControlError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    request.app.state.controls.flush()
    return _done(request, f"{control_id}: {_w('cs_lifted')} ({lift.control_id})")


def _decide(request: Request, user: User, control_id: str, approve: bool) -> Response:
    console = _console(request)
    try:
        with console.engine.begin() as connection:
            state = register.decide_request(
                connection,
                control_id,
                approve=approve,
                actor=user.name,
                role=user.role,
                now=console.now(),
                timezone=console.timezone,
                remote=remote(request),
            )
    except register.ControlError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    if approve:
        request.app.state.controls.flush()
        return _done(request, f"{control_id}: {_w('c_issued')}")
    return _done(request, f"{control_id}: {_w('cs_' + state)}")


@router.post("/controls/{control_id}/approve")
def control_approve(
    request: Request, user: Supervisor, control_id: ControlId, csrf_token: Csrf
) -> Response:
    check_csrf(request, csrf_token)
    return _decide(request, user, control_id, approve=True)


@router.post("/controls/{control_id}/refuse")
def control_refuse(
    request: Request, user: Supervisor, control_id: ControlId, csrf_token: Csrf
) -> Response:
    check_csrf(request, csrf_token)
    return _decide(request, user, control_id, approve=False)
