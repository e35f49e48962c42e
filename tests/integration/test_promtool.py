"""promtool: the compose Prometheus configuration is valid and the alert rules pass their tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from promql import ROOT

pytestmark = pytest.mark.integration
PROMETHEUS = ROOT / "dashboards" / "prometheus"


def promtool(*args: str | Path) -> str:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: `make system` installs Debian's prometheus")
    done = subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_check_config() -> None:
    out = promtool("check", "config", PROMETHEUS / "prometheus.yml")
    assert "SUCCESS" in out


def test_check_rules() -> None:
    rules = sorted((PROMETHEUS / "rules").glob("*.yml"))
    assert rules
    promtool("check", "rules", *rules)


def test_alert_rules_unit_tests() -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    out = promtool("test", "rules", *tests)
    assert "SUCCESS" in out and "FAILED" not in out
