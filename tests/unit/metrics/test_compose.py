"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine needed), and the
deployment they describe is safe by default.

Every riskmon service runs a real `riskmon` command line (parsed by the command itself), every
`RISKMON_*` variable is a setting the code reads, every secret a service reads is granted to it
and made by deploy/secrets.sh (and the made values pass the code's own checks), the health
checks of the riskmon services run here against the real thing, the topics get the contract's
partition counts and retention, Prometheus scrapes the port the workers serve, and nothing is
published that need not be: Kafka, PostgreSQL, Prometheus and Alertmanager not at all, the
console and Grafana on the loopback only, Grafana with no anonymous access or stock password.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from promql import ROOT

from riskmon.settings import Settings
from streams.topics import TOPICS

COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
RISKMON = sorted(name for name, s in SERVICES.items() if s.get("build") == ".")
WORKERS = sorted(n for n in RISKMON if SERVICES[n]["command"][1:2] == ["worker"])
ONE_SHOT = {"topics", "migrate", "backup"}
# events.md: `catalog` ("a later message for the same SKU replaces the earlier one") and
# `controls` ("Compacted: the latest record per key is the control in force")
COMPACTED = {"catalog", "controls", "rules"}
SECRETS_DIR = "/run/secrets/"


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
    """Ports a service offers to the others (published or only exposed)."""
    ports = {int(str(p).split(":")[-1]) for p in SERVICES[service].get("ports", [])}
    return ports | {int(p) for p in SERVICES[service].get("expose", [])}


def riskmon_argv(service: str) -> list[str]:
    """The `riskmon ...` command line a riskmon service runs (through a shell, for backup)."""
    spec = SERVICES[service]
    command = spec["command"]
    if spec.get("entrypoint", [None])[0] == "/bin/sh":
        (script,) = command
        script = script.replace("$$", "$")
        argv = shlex.split(script.replace('"$(date -u +%Y%m%dT%H%M%SZ)"', "STAMP"))
        assert argv[0] == "exec"
        return argv[1:]
    return list(command)


@pytest.fixture(scope="module")
def secrets_made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/secrets.sh run as an operator would, into a folder of the test's own."""
    folder = tmp_path_factory.mktemp("deploy") / "secrets"
    subprocess.run(  # noqa: S603 - our own script
        ["/bin/sh", str(ROOT / "deploy" / "secrets.sh")],
        env={
            "PATH": "/usr/bin:/bin",
            "SECRETS_DIR": str(folder),
            "BUREAU_WEBHOOK_URL": "https://bureau.test/riskmon/alerts",
            "OPERATORS_WEBHOOK_URL": "https://pager.test/riskmon",
        },
        check=True,
        capture_output=True,
    )
    return folder


def service_settings(service: str, secrets: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a riskmon service would load: its environment, its secrets' files."""
    for name in list(__import__("os").environ):
        if name.startswith("RISKMON_"):
            monkeypatch.delenv(name)
    for name, value in SERVICES[service]["environment"].items():
        text = str(value)
        if name.endswith("_FILE") and text.startswith(SECRETS_DIR):
            text = str(secrets / text.removeprefix(SECRETS_DIR))
        monkeypatch.setenv(name, text)
    return Settings()


# ---- the riskmon services ------------------------------------------------------------------


def test_every_riskmon_service_runs_a_command_line_riskmon_accepts() -> None:
    import click
    import typer.main

    from riskmon.cli import app

    root = typer.main.get_command(app)
    assert set(RISKMON) == {"worker-1", "worker-2", "console", "migrate", "backup"}
    assert WORKERS == ["worker-1", "worker-2"]
    for service in RISKMON:
        argv = riskmon_argv(service)
        assert argv[0] == "riskmon", service
        command: click.Command = root
        args = argv[1:]
        while isinstance(command, click.Group):
            found = command.get_command(click.Context(command), args[0])
            assert found is not None, f"{service}: `riskmon {' '.join(argv[1:])}` is no command"
            command, args = found, args[1:]
        # the command's own parser: an unknown option or a missing argument raises here
        command.make_context(argv[0], list(args))
    assert riskmon_argv("worker-1") == ["riskmon", "worker", "--store"]


def test_every_riskmon_variable_is_a_setting_and_every_secret_is_granted(
    secrets_made: Path,
) -> None:
    declared = set(COMPOSE["secrets"])
    for service, spec in SERVICES.items():
        granted = set(spec.get("secrets", []))
        assert granted <= declared, service
        for name, value in (spec.get("environment") or {}).items():
            if name.startswith("RISKMON_"):
                field = name.removeprefix("RISKMON_").removesuffix("_FILE").lower()
                assert field in Settings.model_fields, f"{service}: {name} is read by nothing"
            if str(value).startswith(SECRETS_DIR):
                assert name.endswith("_FILE") or name.endswith("__FILE"), (service, name)
                assert str(value).removeprefix(SECRETS_DIR) in granted, (service, name)
    for name, spec in COMPOSE["secrets"].items():
        assert spec["file"] == f"./secrets/{name}"
        assert (secrets_made / name).is_file(), f"deploy/secrets.sh does not make {name}"
    assert "/secrets/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "secrets" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_made_secrets_pass_the_codes_own_checks(
    secrets_made: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.security import check_secret
    from reports.backup import BackupKey
    from reports.db import parse_url

    console = service_settings("console", secrets_made, monkeypatch)
    assert console.console_secret is not None and console.console_secure_cookies
    check_secret(console.console_secret.get_secret_value())
    backup = service_settings("backup", secrets_made, monkeypatch)
    assert backup.backup_key is not None
    BackupKey.of(backup.backup_key.get_secret_value())
    for service in RISKMON:
        settings = service_settings(service, secrets_made, monkeypatch)
        url = parse_url(settings.database_url.get_secret_value())
        postgres = SERVICES["postgres"]["environment"]
        assert url.get_backend_name() == "postgresql" and url.host == "postgres", service
        assert url.username == postgres["POSTGRES_USER"]
        assert url.database == postgres["POSTGRES_DB"]
        assert url.password == (secrets_made / "postgres_password").read_text()
        assert settings.kafka == "kafka:9092"
    assert (secrets_made.stat().st_mode & 0o777) == 0o700


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _check(service: str, port: int, real: int) -> int:
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python"
    argv = [sys.executable, *(a.replace(str(real), str(port)) for a in test[2:])]
    return subprocess.run(argv, capture_output=True, timeout=30).returncode  # noqa: S603


def test_the_workers_health_check_reads_their_metrics(secrets_made: Path) -> None:
    from prometheus_client import CollectorRegistry, start_http_server

    for name in WORKERS:
        port = int(SERVICES[name]["environment"]["RISKMON_METRICS_PORT"])
        assert f"127.0.0.1:{port}/metrics" in " ".join(SERVICES[name]["healthcheck"]["test"])
    free = _free_port()
    assert _check("worker-1", free, 9108) != 0  # nothing there: unhealthy
    server, thread = start_http_server(free, addr="127.0.0.1", registry=CollectorRegistry())
    try:
        assert _check("worker-1", free, 9108) == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def console_url(tmp_path: Path) -> Iterator[str]:
    from console.serve import served

    env = {"RISKMON_DATABASE_URL": f"sqlite:///{tmp_path}/store.db"}
    with served(env=env, log=tmp_path / "console.log") as url:
        yield url


def test_the_consoles_health_check_finds_it_up(console_url: str) -> None:
    argv = SERVICES["console"]["command"]
    port = int(argv[argv.index("--port") + 1])
    assert _check("console", int(console_url.rsplit(":", 1)[1]), port) == 0
    assert _check("console", _free_port(), port) != 0


# ---- what is published, and how ------------------------------------------------------------


def test_only_the_console_and_grafana_are_published_and_on_the_loopback_only() -> None:
    publishing = {name: s["ports"] for name, s in SERVICES.items() if s.get("ports")}
    assert publishing == {"console": ["127.0.0.1:8080:8080"], "grafana": ["127.0.0.1:3000:3000"]}
    assert COMPOSE["networks"]["backend"]["internal"] is True
    for name, spec in SERVICES.items():
        if "edge" in spec.get("networks", []):
            assert name in {"console", "grafana", "alertmanager"}, name


def test_kafka_has_no_listener_outside_the_backend_network_and_keeps_its_data() -> None:
    kafka = SERVICES["kafka"]
    env = kafka["environment"]
    assert "ports" not in kafka and kafka["networks"] == ["backend"]
    assert env["KAFKA_LISTENERS"] == "PLAINTEXT://:9092,CONTROLLER://:9093"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert f"kafka-data:{env['KAFKA_LOG_DIRS']}" in kafka["volumes"]


def test_grafana_asks_everyone_to_log_in_and_has_no_stock_password() -> None:
    env = SERVICES["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    assert env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    secret = env["GF_SECURITY_ADMIN_PASSWORD__FILE"].removeprefix(SECRETS_DIR)
    assert secret in SERVICES["grafana"]["secrets"]


def test_alertmanager_sends_to_the_webhooks_it_is_given_as_secrets() -> None:
    path = host_path("alertmanager", flag("alertmanager", "config.file"))
    config = yaml.safe_load(path.read_text())
    granted = set(SERVICES["alertmanager"]["secrets"])
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert "url" not in hook, receiver["name"]  # no placeholder host in the file
            assert hook["url_file"].removeprefix(SECRETS_DIR) in granted


def test_the_store_is_postgresql_with_a_volume_and_the_workers_write_it() -> None:
    postgres = SERVICES["postgres"]
    assert any(v.startswith("postgres-data:") for v in postgres["volumes"])
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"].startswith(SECRETS_DIR)
    for name in [*WORKERS, "console"]:
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_lasting_service_has_a_health_check_and_resource_limits() -> None:
    for name, spec in SERVICES.items():
        if name in ONE_SHOT:
            assert spec["restart"] == "no", name
            continue
        assert spec["healthcheck"]["test"], name
        limits = spec["deploy"]["resources"]["limits"]
        assert limits["cpus"] and limits["memory"], name
        assert spec["restart"] == "unless-stopped", name
    for name in RISKMON:
        assert SERVICES[name]["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in SERVICES[name]["security_opt"], name


def test_the_other_health_checks_ask_the_ports_their_services_serve() -> None:
    for name, port in (("prometheus", 9090), ("alertmanager", 9093), ("grafana", 3000)):
        assert f"127.0.0.1:{port}/" in " ".join(SERVICES[name]["healthcheck"]["test"]), name
        assert port in published(name)
    postgres = SERVICES["postgres"]
    env = postgres["environment"]
    check = postgres["healthcheck"]["test"][1]
    assert f"-U {env['POSTGRES_USER']} -d {env['POSTGRES_DB']}" in check


# ---- topics, scraping, dashboards ----------------------------------------------------------


def _topics() -> dict[str, tuple[int, str]]:
    script = SERVICES["topics"]["command"][0]
    return {
        m.group(1): (int(m.group(2)), m.group(3))
        for m in re.finditer(r"^topic (\S+) (\d+) (\S+)$", script, re.M)
    }


def test_topics_get_the_partition_counts_and_retention_of_the_contract() -> None:
    created = _topics()
    for spec in TOPICS:
        assert created[spec.name][0] == spec.partitions, spec.name
    assert set(created) == {t.name for t in TOPICS}
    for name, (_, config) in created.items():
        if name in COMPACTED:
            assert config == "cleanup.policy=compact", name
        else:
            key, value = config.split("=")
            assert key == "retention.ms" and int(value) >= 30 * 86_400_000, name
    script = SERVICES["topics"]["command"][0]
    assert "kafka:9092" in script and "--add-config" in script
    assert SERVICES["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in WORKERS:
        assert SERVICES[name]["depends_on"]["topics"] == {
            "condition": "service_completed_successfully"
        }


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
        assert env["RISKMON_WORKER_ID"] == name
        expected.add(f"{SERVICES[name].get('hostname', name)}:{settings.metrics_port}")
    assert targets == expected
    assert Settings.model_fields["metrics_port"].default == 9108


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


# ---- the image -----------------------------------------------------------------------------


def test_the_image_holds_every_installed_package_and_runs_the_worker() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name in RISKMON:
        assert SERVICES[name]["build"] == "."
    copied = set()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            *sources, _ = (w for w in shlex.split(line)[1:] if not w.startswith("--"))
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


def test_the_image_installs_the_lock_has_a_chinese_font_and_app_belongs_to_its_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps --no-build-isolation ." in dockerfile
    assert re.search(r"apt-get install .*fonts-(wqy-microhei|noto-cjk)", dockerfile)
    assert "useradd --system --uid 10001" in dockerfile and "USER riskmon" in dockerfile
    assert "install -d -o riskmon -g riskmon" in dockerfile  # /app
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "requirements.lock" not in line:
            assert "--chown=riskmon:riskmon" in line, line
