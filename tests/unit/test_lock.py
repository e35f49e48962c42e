"""The lock files: every dependency of pyproject.toml pinned, with hashes, the same pin in both;
`make setup` and the image install them with hashes checked."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)")


def _pins(name: str) -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes)."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        found = PIN.match(line)
        if found:
            current = canonicalize_name(found.group(1))
            pins[current] = (found.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif line.startswith("-e") or line.startswith("file:") or " @ file:" in line:
            raise AssertionError(f"{name}: a local or editable line: {line}")
    return pins


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    wanted = [Requirement(text) for text in listed]
    environment = default_environment()
    return [r for r in wanted if r.marker is None or r.marker.evaluate(dict(environment))]


def test_every_dependency_is_pinned_within_its_range_and_hashed() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    for lock, wanted in ((runtime, _requirements()), (dev, _requirements() + _requirements("dev"))):
        for requirement in wanted:
            version, _ = lock[canonicalize_name(requirement.name)]
            assert requirement.specifier.contains(version, prereleases=True), requirement
    for lock in (runtime, dev):
        assert all(hashes >= 1 for _, hashes in lock.values())
        assert {"setuptools", "wheel"} <= set(lock)  # riskmon builds without pip's own env


def test_the_two_locks_agree_on_every_package_they_share() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert set(runtime) <= set(dev)
    assert {n: v for n, (v, _) in runtime.items()} == {n: dev[n][0] for n in runtime}
    assert not {"pytest", "mypy", "playwright"} & set(runtime)  # no test tools in the image


def test_setup_and_the_image_install_the_locks_with_their_hashes() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r $(DEV_LOCK)" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    assert re.search(r"^STAMP .*\$\(DEV_LOCK\)", makefile, re.M)  # setup is keyed on the lock
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
