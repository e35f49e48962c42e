"""The console's holds page: orders whose subsidy is held, the oldest first, those past the
configured age (`[fund] hold_hours`, default 72 h) marked; a supervisor releases one with a
reason (one fund-ledger entry per budget line and an audit row, in one transaction)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import audit
from console.auth import User
from console.pages import render
from console.security import check_csrf, remote, require
from reports.frames import yuan
from reports.fund_moves import FundError, release
from reports.holds import held_orders

router = APIRouter(include_in_schema=False)
Staff = Annotated[User, Depends(require("analyst", "supervisor"))]
Supervisor = Annotated[User, Depends(require("supervisor"))]
OrderId = Annotated[str, InPath(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
Reason = Annotated[str, Form(max_length=4000)]
Csrf = Annotated[str, Form(max_length=128)]


def _console(request: Request) -> Any:
    return request.app.state.console


@router.get("/holds")
def holds_page(request: Request, user: Staff) -> HTMLResponse:
    console = _console(request)
    now = console.now()
    fund = console.config.bureau.fund
    held = held_orders(console.engine, now)
    tz = console.rules.timezone
    rows = [
        {
            "order_id": m.order_id,
            "programme": m.programme,
            "amount": yuan(m.net),
            "since": m.since.astimezone(tz).strftime("%Y-%m-%d %H:%M") if m.since else "",
            "hours": int((now - m.since).total_seconds() // 3600) if m.since else 0,
            "old": m.since is not None and now - m.since > fund.hold_age,
            "by": m.by or "riskmon",
            "why": m.why or "",
        }
        for m in held
    ]
    return render(
        request,
        "holds.html",
        rows=rows,
        old=sum(1 for r in rows if r["old"]),
        total=yuan(sum(m.net for m in held)),
        hours=f"{fund.hold_hours:g}",
    )


@router.post("/holds/{order_id}/release")
def holds_release(
    request: Request,
    user: Supervisor,
    order_id: OrderId,
    reason: Reason,
    csrf_token: Csrf = "",
) -> Response:
    check_csrf(request, csrf_token)
    console = _console(request)
    now = console.now()
    try:
        with console.engine.begin() as connection:
            move = release(connection, order_id, user.name, reason, now, console.rules.timezone)
            audit.record(
                connection,
                user.name,
                "fund_release",
                role=user.role,
                target=order_id,
                detail={**move, "reason": reason.strip()},
                remote=remote(request),
                at=now,
            )
    except FundError as exc:
        raise HTTPException(409, str(exc)) from None
    request.session["flash"] = f"已解冻 released {move['amount']} yuan of {order_id}"
    return RedirectResponse("/holds", 303)
