"""Every route of the console, walked: refused without a login (or a token), and refused to
every role it is not for. A route added without an entry here fails the walk."""

from __future__ import annotations

from collections.abc import Callable

from conftest import Seed
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from starlette.routing import Mount

from reports.tables import alerts

STAFF = {"analyst", "supervisor"}
EVERYONE = {"analyst", "supervisor", "bureau"}
PUBLIC = "public"
TOKEN = "token"
# (method, path) -> the roles that may use it; PUBLIC: no login; TOKEN: an API token only
ACCESS: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): EVERYONE,
    ("GET", "/alerts"): STAFF,
    ("GET", "/alerts/{alert_id}"): STAFF,
    ("POST", "/alerts/{alert_id}/verdict"): STAFF,
    ("GET", "/incidents"): EVERYONE,
    ("GET", "/incidents/{incident_id}"): EVERYONE,
    ("GET", "/audit"): {"supervisor"},
    ("GET", "/audit.csv"): {"supervisor"},
    ("GET", "/reports"): {"bureau", "supervisor"},
    ("GET", "/reports/{kind}"): {"bureau", "supervisor"},
    ("POST", "/api/v1/decide"): TOKEN,
    ("GET", "/api/v1/openapi.json"): TOKEN,  # or any logged-in user, checked below
    ("GET", "/static"): PUBLIC,  # the stylesheet and the script: no data in them
    # the bureau's side (console/bureau_pages.py)
    ("GET", "/complaints"): EVERYONE,
    ("POST", "/complaints"): STAFF,
    ("GET", "/complaints/{complaint_id}"): EVERYONE,
    ("POST", "/complaints/{complaint_id}/assign"): STAFF,
    ("POST", "/complaints/{complaint_id}/answer"): STAFF,
    ("POST", "/complaints/{complaint_id}/close"): STAFF,
    ("GET", "/merchants"): EVERYONE,
    ("POST", "/merchants"): STAFF,
    ("GET", "/merchants/{merchant_id}"): EVERYONE,
    ("POST", "/merchants/{merchant_id}/vet"): STAFF,
    ("POST", "/merchants/{merchant_id}/decide"): {"supervisor"},
    # controls (console/control_pages.py): analysts see, supervisors act, the bureau neither
    ("GET", "/controls"): STAFF,
    ("POST", "/controls"): {"supervisor"},
    ("POST", "/controls/{control_id}/lift"): {"supervisor"},
    ("POST", "/controls/{control_id}/approve"): {"supervisor"},
    ("POST", "/controls/{control_id}/refuse"): {"supervisor"},
    # the daily work (console/triage_pages.py, console/user_pages.py)
    ("GET", "/entities/{kind}/{ref}"): STAFF,
    ("POST", "/alerts/{alert_id}/bulk"): STAFF,
    ("GET", "/users"): {"supervisor"},
    ("POST", "/users/{name}/{change}"): {"supervisor"},
    ("POST", "/language"): PUBLIC,  # before a login it is kept in the session
    ("GET", "/holds"): STAFF,
    ("POST", "/holds/{order_id}/release"): {"supervisor"},
}


def _routes(client: TestClient) -> set[tuple[str, str]]:
    found = set()
    routes = list(client.app.routes)  # type: ignore[attr-defined]
    while routes:
        route = routes.pop()
        if hasattr(route, "original_router"):  # a router included whole (FastAPI 0.16x)
            routes.extend(route.original_router.routes)
        elif isinstance(route, APIRoute):
            found |= {(method, route.path) for method in route.methods}
        elif isinstance(route, Mount):
            found.add(("GET", route.path))
    return found


def _concrete(path: str, alert_id: str) -> str:
    return (
        path.replace("{alert_id}", alert_id)
        .replace("{kind}/{ref}", "merchant/M0001")
        .replace("{name}/{change}", "bur-1/enable")
        .replace("{incident_id}", "1")
        .replace("{kind}", "daily")
        .replace("{complaint_id}", "1")
        .replace("{merchant_id}", "M0001")
        .replace("{control_id}", "c-20260710-0001")
        .replace("{order_id}", "PS-NO-SUCH-ORDER")
        .replace("/static", "/static/console.css")
    )


def _call(client: TestClient, method: str, path: str) -> tuple[int, str]:
    answer = client.post(path, data={}) if method == "POST" else client.get(path)
    return answer.status_code, answer.headers.get("location", "")


def test_every_route_is_in_the_access_table(make_client: Callable[..., TestClient]) -> None:
    assert _routes(make_client()) == set(ACCESS)


def test_nothing_is_served_without_a_login_or_a_token(
    make_client: Callable[..., TestClient], engine: Engine
) -> None:
    with engine.connect() as connection:
        alert_id = connection.execute(select(alerts.c.alert_id).limit(1)).scalar_one()
    client = make_client()
    for (method, path), allowed in ACCESS.items():
        if allowed == PUBLIC:
            continue
        answer = client.request(method, _concrete(path, alert_id))
        if allowed == TOKEN:
            assert answer.status_code == 401, (method, path)
        else:
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/login?next="), (method, path)


def test_every_role_is_refused_what_it_is_not_for(
    make_client: Callable[..., TestClient], engine: Engine, seed: Seed
) -> None:
    with engine.connect() as connection:
        alert_id = connection.execute(select(alerts.c.alert_id).limit(1)).scalar_one()
    for role in sorted(EVERYONE):
        client = make_client(role)
        for (method, path), allowed in ACCESS.items():
            if allowed == PUBLIC or method == "POST" and path == "/logout":
                continue
            status, location = _call(client, method, _concrete(path, alert_id))
            if path == "/api/v1/openapi.json":
                assert status == 200, (role, path)  # the document: for any logged-in user
            elif allowed == TOKEN:
                assert status == 401, (role, method, path)  # a session is not a token
            elif role in allowed:
                # allowed: what follows is the page itself (a form without its CSRF token is
                # refused as such, an incident that does not exist is not found)
                assert status not in (401, 403), (role, method, path)
                assert not location.startswith("/login"), (role, method, path)
            else:
                assert status == 403, (role, method, path)
    anonymous = make_client()
    headers = {"authorization": f"Bearer {seed.token}"}
    assert anonymous.get("/api/v1/openapi.json", headers=headers).status_code == 200
    assert anonymous.get("/alerts", headers=headers).status_code == 303  # a token is no login
