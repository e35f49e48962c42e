"""House rule 1: the contract and the detectors import no runtime, read no clock, no environment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE = ("schemas", "detectors")
FORBIDDEN_MODULES = (
    "faust",
    "aiokafka",
    "kafka",
    "sqlalchemy",
    "prometheus_client",
    "streams",
    "replay",
    "riskmon",
)
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("os", "getenv"),
    ("random", "random"),
}


def test_pure_packages_load_no_runtime_module() -> None:
    code = (
        "import sys, importlib, pkgutil\n"
        f"for pkg in {PURE!r}:\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.iter_modules(mod.__path__):\n"
        "        importlib.import_module(f'{pkg}.{info.name}')\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_MODULES!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_pure_packages_read_no_clock_and_no_environment() -> None:
    offences = []
    for pkg in PURE:
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                    if (node.value.id, node.attr) in FORBIDDEN_CALLS or (
                        node.value.id == "os" and node.attr == "environ"
                    ):
                        offences.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offences == []
