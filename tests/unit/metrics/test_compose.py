"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine needed).

Every file a service mounts or reads exists, the workers run a real `riskmon` subcommand, the
topics get streams/topics.py's partition counts, and Prometheus scrapes the port the workers
serve their metrics on.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from promql import ROOT

from riskmon.settings import Settings
from streams.topics import TOPICS

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
WORKERS = sorted(name for name, s in SERVICES.items() if s.get("command", [None])[0] == "riskmon")


def host_path(service: str, container_path: str) -> Path:
    """Where a file a container reads comes from on this side of its bind mounts."""
    best: tuple[str, str] | None = None
    for volume in SERVICES[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith(".") and (
            container_path == target or container_path.startswith(target.rstrip("/") + "/")
        ):
            if best is None or len(target) > len(best[1]):
                best = (source, target)
    assert best is not None, f"{service}: nothing mounted at {container_path}"
    return ROOT / best[0] / container_path[len(best[1]) :].lstrip("/")


def flag(service: str, name: str) -> str:
    for arg in SERVICES[service]["command"]:
        if arg.startswith(f"--{name}="):
            return str(arg.split("=", 1)[1])
    raise AssertionError(f"{service} has no --{name}")


def published(service: str) -> set[int]:
    ports = {int(str(p).split(":")[-1]) for p in SERVICES[service].get("ports", [])}
    return ports | {int(p) for p in SERVICES[service].get("expose", [])}


def test_two_workers_run_a_riskmon_subcommand_that_exists() -> None:
    import typer.main

    from riskmon.cli import app

    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert WORKERS == ["worker-1", "worker-2"]
    for name in WORKERS:
        command = SERVICES[name]["command"]
        assert command == ["riskmon", "worker"]
        assert command[1] in commands, f"`riskmon {command[1]}` is not a command of riskmon.cli"


def test_workers_reach_kafka_and_serve_metrics_where_prometheus_scrapes() -> None:
    kafka = SERVICES["kafka"]["environment"]
    prometheus = yaml.safe_load(
        host_path("prometheus", flag("prometheus", "config.file")).read_text()
    )
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "riskmon")
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    expected = set()
    for name in WORKERS:
        env = SERVICES[name]["environment"]
        host, port = env["RISKMON_KAFKA"].split(":")
        assert (
            host in SERVICES and f"PLAINTEXT://{host}:{port}" in kafka["KAFKA_ADVERTISED_LISTENERS"]
        )
        settings = Settings(kafka=env["RISKMON_KAFKA"], metrics_port=env["RISKMON_METRICS_PORT"])
        assert settings.metrics_port in published(name)
        expected.add(f"{SERVICES[name].get('hostname', name)}:{settings.metrics_port}")
    assert targets == expected
    assert Settings.model_fields["metrics_port"].default == 9108


def test_topics_get_the_partition_counts_of_the_contract() -> None:
    script = SERVICES["topics"]["command"][0]
    created = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"--topic (\S+) --partitions (\d+)", script)
    }
    assert created == {t.name: t.partitions for t in TOPICS}
    assert "kafka:9092" in script
    assert SERVICES["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in WORKERS:
        assert SERVICES[name]["depends_on"]["topics"] == {
            "condition": "service_completed_successfully"
        }


def test_prometheus_alertmanager_and_grafana_find_each_other() -> None:
    config_path = host_path("prometheus", flag("prometheus", "config.file"))
    config = yaml.safe_load(config_path.read_text())
    for pattern in config["rule_files"]:
        assert list(config_path.parent.glob(pattern)), pattern
    (target,) = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "alertmanager" and int(port) in published("alertmanager")
    assert host_path("alertmanager", flag("alertmanager", "config.file")).is_file()

    provisioning = "/etc/grafana/provisioning"
    datasources = yaml.safe_load(
        host_path("grafana", f"{provisioning}/datasources/prometheus.yml").read_text()
    )
    url = datasources["datasources"][0]["url"]
    assert url == "http://prometheus:9090" and 9090 in published("prometheus")
    providers = yaml.safe_load(
        host_path("grafana", f"{provisioning}/dashboards/riskmon.yml").read_text()
    )
    folder = host_path("grafana", providers["providers"][0]["options"]["path"])
    assert sorted(p.name for p in folder.glob("*.json")) == [
        "riskmon-budget.json",
        "riskmon-operations.json",
        "riskmon-risk.json",
    ]
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path("grafana", home).is_file()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_mounted_file_exists(service: str) -> None:
    for volume in SERVICES[service].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{service}: {source}"
        else:
            assert source in COMPOSE.get("volumes", {}), f"{service}: volume {source}"


def test_the_image_holds_every_installed_package_and_runs_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name in WORKERS:
        assert SERVICES[name]["build"] == "."
    copied = set()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            *sources, _ = shlex.split(line)[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
                copied.add(source.rstrip("/"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, sorted(packages - copied)
    assert project["project"]["readme"] in copied
    assert 'CMD ["riskmon", "worker"]' in dockerfile
    port = re.search(r"^EXPOSE (\d+)$", dockerfile, re.M)
    assert port and int(port.group(1)) == Settings.model_fields["metrics_port"].default
