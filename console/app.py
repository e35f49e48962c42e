"""The console's app factory: pages, the decision API, and what they share.

`create_app(config)` builds one FastAPI app over one store. Its lifespan loads the decision
API's state snapshot, sends what waits in the labels outbox, and refreshes the snapshot in the
background whenever the store has changed. Sessions and API tokens are checked in the store on
every request (nothing cached), so a logout, a disabled user or a revoked token holds at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine, func, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from console import words
from console.auth import token_user
from console.decide import DecisionEngine
from console.security import (
    SESSION_COOKIE,
    NotLoggedIn,
    SecurityHeaders,
    check_secret,
    login_redirect_target,
)
from console.sessions import Limits
from console.state import build, load_catalog
from console.throttle import Policy
from console.verdicts import LabelSender
from reports.bureau_config import BureauConfig
from reports.tables import decisions, fund_ledger
from schemas.decode import DEFAULT_MAX_BYTES
from schemas.rules import ProgrammeRules
from schemas.times import DEFAULT_WINDOW, TimeWindow

log = logging.getLogger("riskmon.console")
HERE = Path(__file__).parent


@dataclass
class ConsoleConfig:
    engine: Engine
    rules: ProgrammeRules
    catalog: Path | None = None
    kafka: str | None = None
    kafka_batch_bytes: int = 1
    secret: str | None = None
    secure_cookies: bool = False
    refresh_seconds: float = 30.0
    max_bytes: int = DEFAULT_MAX_BYTES
    event_window: TimeWindow = DEFAULT_WINDOW  # of the times an order asked about may carry
    fast_path: bool = True  # the decision API ahead of the routing (`api.DecideFastPath`)
    limits: Limits = field(default_factory=Limits)  # how long a session lasts
    throttle: Policy = field(default_factory=Policy)  # failed logins before a lock-out
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # tests move it
    bureau: BureauConfig = field(default_factory=BureauConfig)  # complaints' answer deadline


@dataclass
class Console:
    """What the routes share (on `app.state.console`)."""

    config: ConsoleConfig
    engine: Engine
    rules: ProgrammeRules
    templates: Jinja2Templates
    decider: DecisionEngine
    sender: LabelSender
    store_mark: tuple[Any, ...] | None = None
    controls: Any = None  # console.merchant_controls.ControlSender: merchant sanctions' outbox

    @property
    def timezone(self) -> tzinfo:
        return self.rules.timezone

    @property
    def limits(self) -> Limits:
        return self.config.limits

    def now(self) -> datetime:
        return self.config.clock()

    def _token_user(self, token: str) -> str | None:
        with self.engine.connect() as connection:
            return token_user(connection, token, self.now())

    async def token_name(self, token: str) -> str | None:
        """Who a live bearer token was issued to, read from the store on every request (one
        primary-key read): a token revoked, or past its expiry, is refused from the next
        request on. A string that is not shaped like a token costs no read."""
        if not token.startswith("rmk_"):
            return None
        return await asyncio.to_thread(self._token_user, token)

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the decision API's snapshot if the store changed; True if it did."""
        with self.engine.connect() as connection:
            mark = _store_mark(connection)
            if not force and mark == self.store_mark:
                return False
            snapshot = build(connection, self.rules, self.decider.catalog)
        snapshot.built_at = time.time()
        self.decider.install(snapshot)
        self.store_mark = mark
        # The snapshot is hundreds of thousands of long-lived objects without cycles: out of
        # the cyclic collector's sight, a full collection no longer walks them (a pause of
        # tens of milliseconds in the decision API's tail otherwise). Refcounting still frees
        # the snapshot it replaced.
        gc.freeze()
        return True


def _store_mark(connection: Any) -> tuple[Any, ...]:
    """Cheap facts that change whenever the worker writes decisions or claw-backs."""
    d = connection.execute(select(func.count(), func.max(decisions.c.decided_at))).one()
    f = connection.execute(select(func.count(), func.max(fund_ledger.c.booked_at))).one()
    return (*d, *f)


def templates_for(timezone: tzinfo) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value on a page is escaped
        undefined=jinja2.StrictUndefined,
    )
    env.filters["local"] = lambda value: words.when(value, timezone)  # 2026-12-05 14:03
    env.filters["yuan"] = words.yuan  # ¥1,234.56
    # the words in Chinese; `pages.render` gives each page the words in its user's language
    env.globals["w"] = lambda key, **figures: words.word(key, "zh", **figures)
    env.globals["n"] = lambda family, value: words.name(family, value, "zh")
    return Jinja2Templates(env=env)


def create_app(config: ConsoleConfig) -> FastAPI:
    from console import (
        api,
        bureau_pages,
        control_pages,
        holds,
        pages,
        triage_pages,
        user_pages,
    )
    from console.merchant_controls import ControlSender

    rules = config.rules
    if config.secret is not None:
        check_secret(config.secret)  # a weak key lets anyone sign a cookie; refuse to start
    decider = DecisionEngine(rules, config.max_bytes, config.event_window)
    decider.catalog = load_catalog(config.catalog)
    console = Console(
        config=config,
        engine=config.engine,
        rules=rules,
        templates=templates_for(rules.timezone),
        decider=decider,
        sender=LabelSender(config.engine, config.kafka, config.kafka_batch_bytes),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(console.refresh, force=True)
        await asyncio.to_thread(console.sender.flush)
        await asyncio.to_thread(controls.flush)
        task = asyncio.create_task(_refresher(console))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            console.sender.close()
            controls.close()

    app = FastAPI(
        title="riskmon console",
        lifespan=lifespan,
        openapi_url=None,  # the API's own document is served, behind a token, by `api`
        docs_url=None,
        redoc_url=None,
    )
    app.state.console = console
    # merchant sanctions for the `controls` topic, through their outbox (console/merchants.py)
    controls = ControlSender(config.engine, config.kafka, config.kafka_batch_bytes)
    app.state.controls = console.controls = controls
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(bureau_pages.router)
    app.include_router(holds.router)
    app.include_router(control_pages.router)
    app.include_router(triage_pages.router)
    app.include_router(user_pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.secret or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE,
        # the browser drops the cookie at the absolute limit; the store's row decides before
        max_age=int(config.limits.absolute.total_seconds()),
        same_site="lax",
        https_only=config.secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    if config.fast_path:
        app.add_middleware(api.DecideFastPath, console=console)

    @app.exception_handler(NotLoggedIn)
    async def to_login(request: Request, exc: NotLoggedIn) -> Response:
        return RedirectResponse(login_redirect_target(exc.path), status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return pages.error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # which parameter and which rule, never the value sent (it may be anything)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ())[1:]) or 'request'}: "
            f"{error.get('msg', 'invalid')}"
            for error in exc.errors()[:5]
        )
        return pages.error_page(request, 422, problems)

    return app


async def _refresher(console: Console) -> None:
    while True:
        await asyncio.sleep(console.config.refresh_seconds)
        try:
            await asyncio.to_thread(console.refresh)
            await asyncio.to_thread(console.sender.flush)
            if console.controls is not None:
                await asyncio.to_thread(console.controls.flush)
        except Exception:  # a store hiccup must not end the refreshing for good
            log.exception("refreshing the decision API's state failed; trying again later")
