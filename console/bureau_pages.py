"""The console's bureau-side pages: complaints and enquiries, the merchant register.

Who sees what: analysts and supervisors register and handle complaints and take merchants'
applications through the checklist; only a supervisor assigns a complaint to someone else and
decides a merchant's status; the bureau reads both, with no form to act. Every change and
every file opened is in the audit trail. Words come from `reports.bureau_words` (Chinese).
"""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import audit, complaints, merchants
from console.auth import User
from console.merchant_controls import waiting
from console.merchant_risk import risk_record
from console.pages import render
from console.security import check_csrf, remote, require
from reports.bureau_words import word
from schemas.pseudonyms import PseudonymError, Pseudonymiser, key_from_env

router = APIRouter(include_in_schema=False)
Staff = Annotated[User, Depends(require("analyst", "supervisor"))]
Supervisor = Annotated[User, Depends(require("supervisor"))]
Anyone = Annotated[User, Depends(require("analyst", "supervisor", "bureau"))]
ComplaintId = Annotated[int, InPath(ge=1, le=2**31 - 1)]
MerchantId = Annotated[str, InPath(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=64)]
Csrf = Annotated[str, Form(max_length=128)]
LANG: Literal["zh", "en"] = "zh"


def _w(key: str) -> str:
    return word(key, LANG)


def page(request: Request, template: str, **context: Any) -> HTMLResponse:
    return render(request, template, **context)  # the templates' `w` is a global (console/app.py)


def _console(request: Request) -> Any:
    return request.app.state.console


def _pseudonymiser() -> Pseudonymiser | None:
    """The pseudonym key of the ingest (RISKMON_PSEUDONYM_KEY), if set: a complainant's phone
    or ID then gets the very pseudonym the orders carry."""
    try:
        return Pseudonymiser(key_from_env(os.environ))
    except PseudonymError:
        return None


def _done(request: Request, message: str, to: str) -> RedirectResponse:
    request.session["flash"] = message
    return RedirectResponse(to, 303)


# ---- complaints ---------------------------------------------------------------------------------

StatusFilter = Literal["", "open", "assigned", "answered", "closed"]


@router.get("/complaints")
def complaint_list(request: Request, user: Anyone, status: StatusFilter = "") -> HTMLResponse:
    console = _console(request)
    with console.engine.begin() as connection:
        complaints.escalate_overdue(connection, console.now())
        rows = complaints.listing(connection, status or None)
        counted = complaints.counts(connection)
        staff = _staff(connection)
    return page(
        request,
        "complaints.html",
        rows=rows,
        counted=counted,
        status=status,
        statuses=complaints.STATUSES,
        kinds=complaints.KINDS,
        parties=complaints.PARTIES,
        channels=complaints.CHANNELS,
        categories=complaints.CATEGORIES,
        staff=staff,
        now=console.now(),
    )


def _staff(connection: Any) -> list[str]:
    from sqlalchemy import select

    from reports.tables import users

    return list(
        connection.execute(
            select(users.c.name)
            .where(users.c.active, users.c.role.in_(("analyst", "supervisor")))
            .order_by(users.c.name)
        ).scalars()
    )


@router.post("/complaints")
def complaint_register(
    request: Request,
    user: Staff,
    kind: Short,
    party: Short,
    channel: Short,
    category: Short,
    contact: Short,
    summary: Text,
    orders: Text = "",
    alerts: Text = "",
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    console = _console(request)
    hours = console.config.bureau.complaints.first_answer_hours
    try:
        with console.engine.begin() as connection:
            complaint_id = complaints.register(
                connection,
                user,
                kind=kind,
                party=party,
                channel=channel,
                category=category,
                contact=contact,
                summary=summary,
                orders=orders,
                alerts=alerts,
                now=console.now(),
                answer_within=timedelta(hours=hours),
                pseudonymiser=_pseudonymiser(),
                remote=remote(request),
            )
    except complaints.ComplaintError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return _done(request, f"#{complaint_id} {_w('register')}", f"/complaints/{complaint_id}")


@router.get("/complaints/{complaint_id}")
def complaint_page(request: Request, user: Anyone, complaint_id: ComplaintId) -> HTMLResponse:
    console = _console(request)
    with console.engine.begin() as connection:
        complaints.escalate_overdue(connection, console.now())
        found = complaints.file(connection, complaint_id)
        if found is None:
            raise HTTPException(404, "no such complaint")
        audit.record(
            connection,
            user.name,
            "view_complaint",
            role=user.role,
            target=str(complaint_id),
            remote=remote(request),
            at=console.now(),
        )
        staff = _staff(connection)
    return page(request, "complaint.html", c=found, staff=staff)


def _step(request: Request, complaint_id: int, step: str, run: Any) -> Response:
    console = _console(request)
    try:
        with console.engine.begin() as connection:
            run(connection, console.now())
    except complaints.ComplaintError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return _done(request, f"#{complaint_id}: {_w(step)}", f"/complaints/{complaint_id}")


@router.post("/complaints/{complaint_id}/assign")
def complaint_assign(
    request: Request, user: Staff, complaint_id: ComplaintId, assignee: Short, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    return _step(
        request,
        complaint_id,
        "assign",
        lambda c, now: complaints.assign(c, user, complaint_id, assignee, now, remote(request)),
    )


@router.post("/complaints/{complaint_id}/answer")
def complaint_answer(
    request: Request, user: Staff, complaint_id: ComplaintId, text: Text, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    return _step(
        request,
        complaint_id,
        "answer",
        lambda c, now: complaints.answer(c, user, complaint_id, text, now, remote(request)),
    )


@router.post("/complaints/{complaint_id}/close")
def complaint_close(
    request: Request, user: Staff, complaint_id: ComplaintId, text: Text, csrf_token: Csrf = ""
) -> Response:
    check_csrf(request, csrf_token)
    return _step(
        request,
        complaint_id,
        "close",
        lambda c, now: complaints.close(c, user, complaint_id, text, now, remote(request)),
    )


# ---- merchants ---------------------------------------------------------------------------------


@router.get("/merchants")
def merchant_list(request: Request, user: Anyone) -> HTMLResponse:
    with _console(request).engine.connect() as connection:
        rows = merchants.listing(connection)
    return page(request, "merchants.html", rows=rows)


@router.post("/merchants")
def merchant_apply(
    request: Request,
    user: Staff,
    merchant_id: Annotated[str, Form(max_length=128)],
    name: Annotated[str, Form(max_length=200)],
    licence_no: Short,
    categories: Text,
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    console = _console(request)
    try:
        with console.engine.begin() as connection:
            merchants.apply(
                connection,
                user,
                merchant_id=merchant_id,
                name=name,
                licence_no=licence_no,
                categories=categories,
                now=console.now(),
                remote=remote(request),
            )
    except merchants.MerchantError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return _done(
        request, f"{merchant_id.strip()}: {_w('applied')}", f"/merchants/{merchant_id.strip()}"
    )


@router.get("/merchants/{merchant_id}")
def merchant_page(request: Request, user: Anyone, merchant_id: MerchantId) -> HTMLResponse:
    console = _console(request)
    prices = {
        sku: Decimal(product.entry.reference_price)
        for sku, product in console.decider.catalog.items()
    }
    with console.engine.begin() as connection:
        found = [m for m in merchants.listing(connection) if m["merchant_id"] == merchant_id]
        if not found:
            raise HTTPException(404, "no such merchant")
        audit.record(
            connection,
            user.name,
            "view_merchant",
            role=user.role,
            target=merchant_id,
            remote=remote(request),
            at=console.now(),
        )
        record = risk_record(connection, merchant_id, prices)
        history = merchants.history(connection, merchant_id)
        outbox = waiting(connection)
    starts = {move: spec[0] for move, spec in merchants.MOVES.items()}
    return page(
        request,
        "merchant.html",
        m=found[0],
        record=record,
        history=history,
        moves=[m for m, s in starts.items() if found[0]["status"] in s],
        catalog=bool(prices),
        outbox=outbox,
    )


@router.post("/merchants/{merchant_id}/vet")
def merchant_vet(
    request: Request,
    user: Staff,
    merchant_id: MerchantId,
    licence_checked: Annotated[bool, Form()] = False,
    categories_checked: Annotated[bool, Form()] = False,
    training_done: Annotated[bool, Form()] = False,
    *,
    csrf_token: Csrf,  # required: every other field may be left out (an unchecked box)
) -> Response:
    check_csrf(request, csrf_token)
    console = _console(request)
    try:
        with console.engine.begin() as connection:
            status = merchants.vet(
                connection,
                user,
                merchant_id,
                licence_checked=licence_checked,
                categories_checked=categories_checked,
                training_done=training_done,
                now=console.now(),
                remote=remote(request),
            )
    except merchants.MerchantError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return _done(request, f"{merchant_id}: {_w(status)}", f"/merchants/{merchant_id}")


@router.post("/merchants/{merchant_id}/decide")
def merchant_decide(
    request: Request,
    user: Supervisor,
    merchant_id: MerchantId,
    action: Short,
    reason: Text = "",
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    console = _console(request)
    try:
        with console.engine.begin() as connection:
            status = merchants.move(
                connection,
                user,
                merchant_id,
                action,
                reason,
                console.now(),
                console.timezone,
                remote(request),
            )
    except merchants.MerchantError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    request.app.state.controls.flush()
    return _done(request, f"{merchant_id}: {_w(status)}", f"/merchants/{merchant_id}")
