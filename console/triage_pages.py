"""The analyst's daily work beyond one alert: an entity's page (its orders and alerts over time)
and one verdict given to several of an alert's linked alerts at once."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import audit, queue, words
from console.auth import User
from console.entities import entity_file
from console.pages import AlertId, lang_of, render, say
from console.refs import REF_PATTERN
from console.security import check_csrf, remote, require
from console.verdicts import CommentRequired, VerdictError, give

router = APIRouter(include_in_schema=False)
Staff = Annotated[User, Depends(require("analyst", "supervisor"))]
Kind = Literal[
    "consumer", "device", "address", "pickup_point", "payment_account", "phone", "merchant"
]  # console.refs.PAGE_KINDS
Ref = Annotated[str, InPath(min_length=1, max_length=128, pattern=REF_PATTERN)]
MAX_BULK = 100


@router.get("/entities/{kind}/{ref}")
def entity_page(request: Request, user: Staff, kind: Kind, ref: Ref) -> HTMLResponse:
    with request.app.state.console.engine.begin() as connection:
        file = entity_file(connection, kind, ref)
        if file is None:
            raise HTTPException(404, say(request, "entity_none"))
        audit.record(
            connection,
            user.name,
            "view_entity",
            role=user.role,
            target=f"{kind}:{ref}",
            remote=remote(request),
        )
    return render(request, "entity.html", file=file)


@router.post("/alerts/{alert_id}/bulk")
def bulk_verdict(
    request: Request,
    user: Staff,
    alert_id: AlertId,
    action: Annotated[str, Form(max_length=16)],
    ids: Annotated[list[str], Form(max_length=MAX_BULK)] = [],  # noqa: B006 - FastAPI's form list
    comment: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """The same verdict on each selected alert linked to this one (by an order or an entity,
    as its page lists them); each is a verdict of its own, labels and audit row included. One
    that cannot take it (decided meanwhile, a critical alert dismissed without a comment) is
    left as it is and named in the message; the others go through."""
    check_csrf(request, csrf_token)
    console = request.app.state.console
    lang = lang_of(request)
    chosen = list(dict.fromkeys(ids))
    if not chosen:
        request.session["flash"] = say(request, "bulk_none")
        return RedirectResponse(f"/alerts/{alert_id}", 303)
    done, skipped, reasons = 0, 0, set()
    with console.engine.begin() as connection:
        file = queue.alert_file(connection, alert_id)
        if file is None:
            raise HTTPException(404, "no such alert")
        linked = {a["alert_id"] for a in file.sharing} | {
            a["alert_id"] for e in file.entities for a in e["alerts"]
        }
        if not set(chosen) <= linked:
            raise HTTPException(422, "only the alerts linked to this one take a verdict here")
        for other in chosen:
            try:
                with connection.begin_nested():
                    give(
                        connection,
                        user,
                        other,
                        action,
                        comment.strip(),
                        timezone=console.timezone,
                        remote=remote(request),
                    )
                done += 1
            except CommentRequired as exc:
                skipped += 1
                reasons.add(say(request, exc.key))
            except VerdictError as exc:
                if exc.status == 422:  # not an action at all: nothing to do for any of them
                    raise HTTPException(422, str(exc)) from None
                skipped += 1
                reasons.add(str(exc))
    console.sender.flush()
    status = words.name("status", _after(action), lang)
    if skipped:
        message = say(
            request, "bulk_done", done=done, status=status, skipped=skipped, why=" ".join(reasons)
        )
    else:
        message = say(request, "bulk_done_all", done=done, status=status)
    request.session["flash"] = message
    return RedirectResponse(f"/alerts/{alert_id}", 303)


def _after(action: str) -> str:
    from console.verdicts import STATUS_AFTER

    return STATUS_AFTER.get(action, action)
