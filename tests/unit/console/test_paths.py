"""Malformed path parameters get a 4xx with the security headers, never a 500; an unexpected
error gets a 500 with them too, and its text stays out of the page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from console import queue

BAD = [
    "99999999999999999999",  # past any integer column
    str(2**63),
    "-1",
    "0",
    "1e3",
    "x" * 10_000,
    "%00",
    "%E2%80%AE%31",  # a bidi override
    "%F0%9F%92%A5",
    "..%2F..%2Fetc%2Fpasswd",
    "%ZZ",
]


def _has_headers(answer: object) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    assert headers["x-frame-options"] == "DENY", headers
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize(
    ("role", "template"),
    [
        ("bureau", "/incidents/{}"),
        ("analyst", "/alerts/{}"),
        ("supervisor", "/reports/{}"),
        ("supervisor", "/reports/daily?day={}"),
        ("analyst", "/alerts?page={}"),
    ],
)
def test_a_malformed_parameter_gets_a_4xx_with_the_security_headers(
    make_client: Callable[..., TestClient], role: str, template: str, value: str
) -> None:
    answer = make_client(role).get(template.format(value))
    assert 400 <= answer.status_code < 500, (template, value, answer.status_code)
    _has_headers(answer)
    assert value not in answer.text or len(value) < 3


def test_a_huge_incident_number_is_not_a_server_error(
    make_client: Callable[..., TestClient],
) -> None:
    answer = make_client("bureau").get("/incidents/99999999999999999999")
    assert answer.status_code == 422 and "incident_id" in answer.text
    _has_headers(answer)


def test_an_unexpected_error_is_a_500_with_the_headers_and_without_its_text(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(connection: object) -> list[object]:
        raise RuntimeError("secret detail 440310199001011234")

    monkeypatch.setattr(queue, "incident_list", broken)
    answer = make_client("bureau").get("/incidents")
    assert answer.status_code == 500
    _has_headers(answer)
    assert "440310199001011234" not in answer.text
