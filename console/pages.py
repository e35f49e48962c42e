"""The console's pages: login, the alert queue, an alert and its verdict, incidents, the audit
trail, the bureau's reports. Rendered on the server (Jinja2); the little JavaScript there is
only submits filters and asks before a verdict."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from console import audit, queue, sessions, throttle, words
from console.auth import User, authenticate
from console.evidence import figures, sentence
from console.security import check_csrf, csrf_token, current_user, remote, require
from console.verdicts import ACTIONS, CommentRequired, Given, VerdictError, give, outbox_size
from schemas.labels import RISKS
from schemas.outputs import SEVERITIES

router = APIRouter(include_in_schema=False)
Staff = Annotated[User, Depends(require("analyst", "supervisor"))]
Supervisor = Annotated[User, Depends(require("supervisor"))]
Anyone = Annotated[User, Depends(require("analyst", "supervisor", "bureau"))]
Reader = Annotated[User, Depends(require("bureau", "supervisor"))]

# Path parameters: an alert id is the 32 hex digits of a blake2b digest; an incident number
# fits the store's integer column. Anything else is a 4xx before any query.
AlertId = Annotated[str, InPath(min_length=1, max_length=32, pattern="^[0-9a-f]+$")]
IncidentId = Annotated[int, InPath(ge=1, le=2**31 - 1)]


def lang_of(request: Request) -> words.Lang:
    """The page's language: the user's setting, or before a login the one chosen in the
    header (kept in the session), Chinese otherwise."""
    user = getattr(request.state, "user", None)
    if user is not None:
        return words.lang_of(user.lang)
    chosen = request.session.get("lang") if "session" in request.scope else None
    return words.lang_of(chosen)


def say(request: Request, key: str, **figures: object) -> str:
    """A message in the page's language (console/words.py)."""
    return words.word(key, lang_of(request), **figures)


def render(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    console = request.app.state.console
    user = getattr(request.state, "user", None)
    flash = request.session.pop("flash", None) if "session" in request.scope else None
    lang = lang_of(request)
    response: HTMLResponse = console.templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf": csrf_token(request),
            "flash": flash,
            "lang": lang,
            "langs": words.LANGS,
            "here": request.url.path,
            "w": lambda key, **figures: words.word(key, lang, **figures),
            "n": lambda family, value: words.name(family, value, lang),
            **context,
        },
        status_code=code,
    )
    return response


def error_page(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return Response(f'{{"error":"http_{status}"}}', status, media_type="application/json")
    # `here="/"`: the language switch on an error page goes home, and the page does not echo
    # back a path that may be anything
    return render(
        request,
        "error.html",
        status,
        status=status,
        message=message,
        here="/",
        error_words=words.WORDS,
    )


def _connect(request: Request) -> Any:
    return request.app.state.console.engine.connect()


def _begin(request: Request) -> Any:
    return request.app.state.console.engine.begin()


@router.get("/")
def home(user: Anyone) -> RedirectResponse:
    return RedirectResponse("/incidents" if user.role == "bureau" else "/alerts", 303)


# ---- login --------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    # only a path of this site: never an open redirect to another one
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(_safe_next(next), 303)
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2048)] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    console = request.app.state.console
    now = console.now()
    address = remote(request)
    client = throttle.client_key(address)
    session_id = None
    started = None
    with _begin(request) as connection:
        lock = throttle.locked(connection, name, client, now)
        user = None if lock is not None else authenticate(connection, name, password)
        if user is None:
            if lock is None:
                started = throttle.failed(connection, name, client, now, console.config.throttle)
            audit.record(
                connection,
                name or "-",
                "login_failed",
                detail={"locked": lock.scope if lock else None},
                remote=address,
            )
        else:
            throttle.succeeded(connection, name)
            session_id = sessions.begin(connection, user, now, console.limits, address)
            audit.record(connection, user.name, "login", role=user.role, remote=address)
    if session_id is None:
        if lock is None and started is None:
            return render(
                request,
                "login.html",
                401,
                next=_safe_next(next),
                error=say(request, "login_failed"),
            )
        until = lock.until if lock is not None else started.until if started is not None else now
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        message = say(request, "login_locked", minutes=minutes)
        if lock is None:
            message = f"{say(request, 'login_failed')}; {message}"
        response = render(request, "login.html", 429, next=_safe_next(next), error=message)
        response.headers["retry-after"] = str(minutes * 60)
        return response
    request.session.clear()  # a new session: nothing from before the login carries over
    request.session["sid"] = session_id
    return RedirectResponse(_safe_next(next), 303)


@router.post("/logout")
def logout(
    request: Request, user: Anyone, csrf_token: Annotated[str, Form(max_length=128)] = ""
) -> RedirectResponse:
    check_csrf(request, csrf_token)
    console = request.app.state.console
    with _begin(request) as connection:
        session_id = request.session.get("sid")
        if isinstance(session_id, str):
            sessions.end(connection, session_id, console.now())
        audit.record(connection, user.name, "logout", role=user.role, remote=remote(request))
    request.session.clear()
    return RedirectResponse("/login", 303)


# ---- the queue and an alert ------------------------------------------------------------------

RiskFilter = Literal["", "hoarding", "arbitrage", "fraud", "compliance", "budget"]
SeverityFilter = Literal["", "low", "medium", "high", "critical"]
# absent: the open alerts; `all` (or empty, as older links have it): every status
StatusFilter = Literal["", "all", "open", "confirmed", "dismissed", "escalated"]


@router.get("/alerts")
def alert_queue(
    request: Request,
    user: Staff,
    risk: RiskFilter = "",
    severity: SeverityFilter = "",
    detector: Annotated[str, Query(max_length=64)] = "",
    status: StatusFilter = "open",  # queue.DEFAULT_STATUS
    start_text: Annotated[str, Query(alias="from", max_length=10)] = "",
    end_text: Annotated[str, Query(alias="to", max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    start, end = _day(start_text), _day(end_text)
    chosen = status or queue.ANY
    filters = queue.Filters(risk, severity, detector, chosen, start, end)
    with _connect(request) as connection:
        found = queue.queue(connection, filters, page)
        detectors = queue.detectors(connection)
    query = {
        "risk": risk,
        "severity": severity,
        "detector": detector,
        "status": chosen,
        "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else "",
    }
    return render(
        request,
        "queue.html",
        found=found,
        query=query,
        qs=urlencode(query),
        risks=RISKS,
        severities=SEVERITIES,
        statuses=queue.STATUSES,
        detectors=detectors,
    )


def _day(text: str) -> date | None:
    # a date field left empty comes as an empty string
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(422, "a day is YYYY-MM-DD") from None


def _alert_file(request: Request, alert_id: str, user: User, action: str) -> queue.AlertFile:
    with _begin(request) as connection:
        file = queue.alert_file(connection, alert_id)
        if file is None:
            raise HTTPException(404, "no such alert")
        audit.record(
            connection, user.name, action, role=user.role, target=alert_id, remote=remote(request)
        )
        waiting = outbox_size(connection)
    file.alert["outbox"] = waiting
    return file


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, user: Staff, alert_id: AlertId) -> HTMLResponse:
    return _show_alert(request, user, alert_id)


def _show_alert(request: Request, user: User, alert_id: str, code: int = 200) -> HTMLResponse:
    file = _alert_file(request, alert_id, user, "view_alert")
    sender = request.app.state.console.sender
    return render(
        request,
        "alert.html",
        code,
        file=file,
        figures=figures(file.raw_evidence, lang_of(request)),
        sentence=sentence(file.alert, file.raw_evidence, lang_of(request)),
        actions=ACTIONS,
        can_act=file.alert["status"] in ("open", "escalated"),
        kafka=sender.configured,
    )


@router.post("/alerts/{alert_id}/verdict")
def verdict(
    request: Request,
    user: Staff,
    alert_id: AlertId,
    action: Annotated[str, Form(max_length=16)],
    comment: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    check_csrf(request, csrf_token)
    console = request.app.state.console
    try:
        with _begin(request) as connection:
            given = give(
                connection,
                user,
                alert_id,
                action,
                comment.strip(),
                timezone=console.timezone,
                remote=remote(request),
            )
    except CommentRequired as exc:
        # the alert's page again, with the reason, and what was typed nowhere to lose
        request.session["flash"] = say(request, exc.key)
        return _show_alert(request, user, alert_id, 422)
    except VerdictError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    request.session["flash"] = after_verdict(request, given)
    return RedirectResponse(f"/alerts/{alert_id}", 303)


def after_verdict(request: Request, given: Given) -> str:
    """What a verdict led to, in words: the status, the incident, the labels' way out."""
    sender = request.app.state.console.sender
    sender.flush()
    lang = lang_of(request)
    parts = [say(request, "given", status=words.name("status", given.status, lang))]
    if given.incident_id is not None:
        parts.append(say(request, "given_incident", n=given.incident_id))
    if given.labels:
        with _connect(request) as connection:
            waiting = outbox_size(connection)
        if waiting == 0:
            parts.append(say(request, "labels_sent", n=given.labels))
        elif not sender.configured:
            parts.append(say(request, "labels_kept", n=given.labels))
        else:
            error = sender.last_error or "no answer"
            parts.append(say(request, "labels_waiting", n=waiting, error=error))
    return ";".join(parts) if lang == "zh" else "; ".join(parts)


# ---- incidents (the bureau) ----------------------------------------------------------------


@router.get("/incidents")
def incident_list(request: Request, user: Anyone) -> HTMLResponse:
    with _connect(request) as connection:
        rows = queue.incident_list(connection)
    return render(request, "incidents.html", incidents=rows)


@router.get("/incidents/{incident_id}")
def incident_page(request: Request, user: Anyone, incident_id: IncidentId) -> HTMLResponse:
    with _connect(request) as connection:
        alert_id = queue.incident_alert(connection, incident_id)
    if alert_id is None:
        raise HTTPException(404, "no such incident")
    file = _alert_file(request, alert_id, user, "view_incident")
    return render(
        request,
        "alert.html",
        file=file,
        figures=figures(file.raw_evidence, lang_of(request)),
        sentence=sentence(file.alert, file.raw_evidence, lang_of(request)),
        actions=(),
        can_act=False,
        kafka=False,
    )


# ---- the audit trail (supervisors) ---------------------------------------------------------


@router.get("/audit")
def audit_page(
    request: Request,
    user: Supervisor,
    actor: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    size = 100
    with _begin(request) as connection:
        audit.record(connection, user.name, "view_audit", role=user.role, remote=remote(request))
        found = audit.page(
            connection, actor=actor or None, action=action or None, offset=(page - 1) * size
        )
    pages = max(1, -(-found.total // size))
    return render(
        request,
        "audit.html",
        found=found,
        page=page,
        pages=pages,
        query={"actor": actor, "action": action},
        qs=urlencode({"actor": actor, "action": action}),
        actions=audit.ACTIONS,
    )


@router.get("/audit.csv")
def audit_export(request: Request, user: Supervisor) -> StreamingResponse:
    with _begin(request) as connection:
        audit.record(connection, user.name, "export_audit", role=user.role, remote=remote(request))

    def rows() -> Any:
        with _connect(request) as connection:
            yield from audit.export_csv(connection)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="riskmon-audit.csv"'},
    )


# ---- the bureau's reports ------------------------------------------------------------------


@router.get("/reports")
def reports_page(request: Request, user: Reader) -> HTMLResponse:
    from reports.frames import store_days

    days = store_days(request.app.state.console.engine)
    return render(request, "reports.html", days=days)


ReportKind = Literal["daily", "incidents"]


@router.get("/reports/{kind}")
def report(
    request: Request,
    user: Reader,
    kind: ReportKind,
    day_text: Annotated[str, Query(alias="day", max_length=10)] = "",
) -> HTMLResponse:
    from reports.bureau import EmptyStoreError, default_period, make
    from reports.period import Period
    from reports.render import write

    console = request.app.state.console
    engine = console.engine
    day = _day(day_text)  # YYYY-MM-DD only: not a number of seconds since 1970
    try:
        period = Period(day, day) if day is not None else default_period(engine, kind)
    except EmptyStoreError as exc:
        raise HTTPException(404, str(exc)) from None
    with _begin(request) as connection:
        audit.record(
            connection,
            user.name,
            "view_report",
            role=user.role,
            target=kind,
            detail={"period": str(period)},
            remote=remote(request),
        )
    built = make(kind, engine, console.rules, period, "zh", source="riskmon console")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"{kind}.html"
        write(built, "html", out)
        page = out.read_text(encoding="utf-8")
    # the report is one self-contained page: its own styles and its charts inline
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    return HTMLResponse(page, headers={"content-security-policy": csp})
