"""docker-compose.yml checked by what it does: valid against the Compose Specification's JSON
Schema (check-jsonschema's vendored copy) after Compose's interpolation with the values of
.env.example; its references resolve (named volumes, bind mounts, build context,
depends_on, profiles); the bot reads its configuration through a read-only mount and keeps
its database on a named volume; the PostgreSQL profile's DATABASE_URL reaches its service."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import pytest
from deploy.files import (
    COMPOSE,
    DOCKER_CONFIG,
    ENV_EXAMPLE,
    ROOT,
    bot_service,
    compose_file,
    compose_schema,
    docker_config_settings,
    env_as_copied,
    env_postgres,
    final_stage,
    image_env,
    is_bind,
    mount_of,
    mounts,
    schema_errors,
    yaml_of,
)

# --- docker-compose.yml -------------------------------------------------------------------


@pytest.mark.parametrize("env", ["as copied", "postgres"])
def test_compose_file_matches_the_compose_specification(env: str) -> None:
    values = env_as_copied() if env == "as copied" else env_postgres()
    assert schema_errors(compose_schema(), yaml_of(COMPOSE)) == []
    assert schema_errors(compose_schema(), compose_file(values)) == []


def test_the_compose_schema_catches_a_broken_file() -> None:
    """The validation above can fail: a misspelt key and a wrong type are caught."""
    compose = yaml_of(COMPOSE)
    compose["services"]["bot"]["restrat"] = "always"
    compose["services"]["bot"]["depends_on"]["postgres"]["condition"] = "service_ready"
    errors = schema_errors(compose_schema(), compose)
    assert any("restrat" in e for e in errors), errors
    assert any("service_ready" in e for e in errors), errors


@pytest.mark.parametrize("env", ["as copied", "postgres"])
def test_compose_references_resolve(env: str) -> None:
    compose = compose_file(env_as_copied() if env == "as copied" else env_postgres())
    services: dict[str, Any] = compose["services"]
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in services.items():
        for source, target, _ in mounts(service):
            assert target.startswith("/"), f"{name}: {target} is not an absolute path"
            if is_bind(source):
                assert (ROOT / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on a service that does not exist"
            other = services[dependency]
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in other, f"{dependency} has no healthcheck to wait for"
            if other.get("profiles") and not service.get("profiles"):
                # without the profile, Compose would refuse to start `name`
                assert condition.get("required") is False, f"{name} requires {dependency}"
        if "build" in service:
            build = service["build"]
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            file = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            assert (context / file).is_file(), f"{name}: no {file} in the build context"
        for env_file in [service["env_file"]] if isinstance(service.get("env_file"), str) else []:
            # the operator makes it from .env.example, and git never sees it
            assert ENV_EXAMPLE.name == f"{env_file}.example" and ENV_EXAMPLE.is_file()
            assert env_file in (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert used == declared, f"volumes declared but never mounted: {sorted(declared - used)}"
    assert [s for s, v in services.items() if not v.get("profiles")] == ["bot"]


def test_the_bot_reads_its_config_through_a_read_only_mount_and_keeps_data_on_a_volume() -> None:
    """Follow the paths: PAPERBOY_CONFIG (after interpolation) lies on a read-only bind
    mount of ./config, where the operator copies config/paperboy.docker.yaml; that config
    validates, and its database lies on a named volume the image declares as VOLUME."""
    bot = bot_service()
    config_path = bot["environment"]["PAPERBOY_CONFIG"]
    source, target, read_only = mount_of(bot, config_path)
    assert is_bind(source) and read_only, "the configuration is mounted read-only"
    on_host = (ROOT / source / PurePosixPath(config_path).relative_to(target)).resolve()
    assert on_host.parent == DOCKER_CONFIG.parent, "config/paperboy.docker.yaml goes there"
    assert image_env()["PAPERBOY_CONFIG"] == config_path, "image and compose agree"

    settings, health = docker_config_settings(env={})
    source, target, read_only = mount_of(bot, settings.database)
    assert not is_bind(source) and not read_only, "the database is on a writable volume"
    volumes = [v for c in final_stage() if c.cmd == "VOLUME" for v in c.value]
    assert target in volumes, "the image declares the data directory a VOLUME"
    owner = " ".join(v for c in final_stage() if c.cmd == "RUN" for v in c.value)
    user = next(c.value[0] for c in reversed(final_stage()) if c.cmd == "USER")
    assert re.search(rf"chown {re.escape(user.split(':')[0])}\S* {re.escape(target)}\b", owner), (
        "a fresh volume takes the owner of the image's directory: the bot's user"
    )
    # /healthz is served where the image's healthcheck calls it
    assert health == {"host": "0.0.0.0", "port": 8080}
    assert image_env()["PAPERBOY_HEALTH_URL"] == f"http://127.0.0.1:{health['port']}/healthz"


def test_compose_publishes_no_port_by_default() -> None:
    # Socket Mode needs no open port; /healthz is called from inside the container.
    assert "ports" not in bot_service()


def test_slack_http_mode_port_in_compose_matches_the_config() -> None:
    settings, _ = docker_config_settings(env={})
    port = settings.slack.http_port
    assert f'"{port}:{port}"' in COMPOSE.read_text(encoding="utf-8")


def test_env_example_database_url_reaches_the_postgres_service() -> None:
    from sqlalchemy.engine import make_url

    from bot.store.db import database_url

    env = env_postgres()
    compose = compose_file(env)
    url = make_url(env["DATABASE_URL"])
    assert url.drivername == "postgresql" and url.host in compose["services"]
    postgres = compose["services"][url.host]
    assert env["COMPOSE_PROFILES"] in postgres["profiles"], "the profile starts the database"
    assert (url.port or 5432) == 5432
    assert url.username == postgres["environment"]["POSTGRES_USER"]
    assert url.database == postgres["environment"]["POSTGRES_DB"]
    assert url.password == postgres["environment"]["POSTGRES_PASSWORD"]
    command = " ".join(postgres["healthcheck"]["test"][1:])
    assert f"-U {url.username}" in command and f"-d {url.database}" in command
    settings, _ = docker_config_settings(env={"DATABASE_URL": env["DATABASE_URL"]})
    assert database_url(settings.database).startswith("postgresql+psycopg://paperboy:")


def test_the_postgres_service_refuses_to_start_without_a_password() -> None:
    """As copied (storage lines commented out) POSTGRES_PASSWORD is empty: the postgres
    image refuses to initialise without one, rather than running with no password."""
    postgres = compose_file(env_as_copied())["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == ""
