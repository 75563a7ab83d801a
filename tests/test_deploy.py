"""Deployment files: Dockerfile, docker-compose.yml, .env.example, the Slack manifest, README.

These read the real files of the repository; each check fails when the file drifts from
what the README's "Deploy" section tells an operator to do.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
import yaml

from bot.chat.slack_app import COMMAND, EVENTS_PATH
from bot.settings import Settings, validate

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
MANIFEST = ROOT / "config" / "slack-manifest.yaml"
DOCKER_CONFIG = ROOT / "config" / "paperboy.docker.yaml"
EXAMPLE_CONFIG = ROOT / "config" / "paperboy.example.yaml"
README = ROOT / "README.md"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}")
_ENV_LINE = re.compile(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$")

# Variables Compose itself reads from .env (no ${VAR} mentions them).
COMPOSE_READS = {"COMPOSE_PROFILES"}

# The Discord permissions the README's invite URL asks for.
DISCORD_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True
)


# --- helpers ----------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments out."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, args = full.partition(" ")
        out.append((word.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def _stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for word, args in instructions:
        if word == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word, args))
    return stages


def _build_args(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """ARGs declared before the first FROM, with their defaults."""
    args: dict[str, str] = {}
    for word, rest in instructions:
        if word == "FROM":
            break
        if word == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default
    return args


def _resolve(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def _env_assignments(args: str) -> dict[str, str]:
    """`ENV A=1 B=two` (the key=value form) as a dict."""
    pairs = (token.partition("=") for token in shlex.split(args))
    return {k: v for k, sep, v in pairs if sep}


def _dockerfile() -> list[tuple[str, str]]:
    return _instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _final_stage() -> list[tuple[str, str]]:
    return _stages(_dockerfile())[-1]


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def _bot() -> dict[str, Any]:
    compose = _yaml(COMPOSE)
    assert "bot" in compose["services"], "docker-compose.yml has no `bot` service"
    bot: dict[str, Any] = compose["services"]["bot"]
    return bot


def _deploy_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Deploy\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Deploy' section"
    return match.group(1)


def _env_example() -> dict[str, str]:
    names: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := _ENV_LINE.match(line.strip()):
            names[m[1]] = m[2]
    return names


def _health_url_default() -> str:
    env: dict[str, str] = {}
    for word, args in _final_stage():
        if word == "ENV":
            env.update(_env_assignments(args))
    assert "PAPERBOY_HEALTH_URL" in env, "the image sets no PAPERBOY_HEALTH_URL default"
    return env["PAPERBOY_HEALTH_URL"]


def _docker_config_settings(env: dict[str, str]) -> tuple[Settings, dict[str, Any]]:
    """Validate config/paperboy.docker.yaml; the `health:` block is checked by the caller
    and left out when this version of Settings does not know it yet."""
    raw = _yaml(DOCKER_CONFIG)
    health = raw.get("health")
    if "health" not in Settings.model_fields:
        raw = {k: v for k, v in raw.items() if k != "health"}
    settings = validate(raw, source_file=str(DOCKER_CONFIG), env=env, base_dir=DOCKER_CONFIG.parent)
    return settings, health


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_bot_service_builds_the_image_and_reads_env_file() -> None:
    bot = _bot()
    assert bot["build"] in (".", {"context": "."})
    assert bot.get("image"), "give the image a name, so `docker compose build` tags it"
    env_files = bot["env_file"] if isinstance(bot["env_file"], list) else [bot["env_file"]]
    assert ".env" in env_files
    assert bot["restart"] == "unless-stopped"


def test_compose_mounts_the_named_data_volume_and_the_config_read_only() -> None:
    compose = _yaml(COMPOSE)
    bot = _bot()
    volumes = bot["volumes"]
    assert "paperboy-data:/data" in volumes
    assert "paperboy-data" in (compose.get("volumes") or {}), "named volume not declared"
    config_mounts = [v for v in volumes if v.split(":")[1:2] == ["/app/config"]]
    assert config_mounts == ["./config:/app/config:ro"]
    config_path = bot["environment"]["PAPERBOY_CONFIG"]
    assert config_path.endswith("/app/config/paperboy.yaml}") or config_path == (
        "/app/config/paperboy.yaml"
    )


def test_compose_rotates_logs() -> None:
    logging = _bot()["logging"]
    assert logging["driver"] == "json-file"
    assert re.fullmatch(r"\d+[kmg]", str(logging["options"]["max-size"]))
    assert int(logging["options"]["max-file"]) >= 2


def test_compose_publishes_no_port_by_default() -> None:
    # Socket Mode needs no open port; /healthz is called from inside the container.
    assert "ports" not in _bot()


def test_compose_healthcheck_calls_healthz() -> None:
    check = _bot()["healthcheck"]
    test = check["test"]
    assert test[0] == "CMD" and test[1] == "python" and test[2] == "-c"
    assert "urlopen" in test[3] and "PAPERBOY_HEALTH_URL" in test[3]
    assert _health_url_default().endswith("/healthz")
    for key in ("interval", "timeout", "start_period"):
        assert re.fullmatch(r"\d+[smh]", check[key]), key
    assert int(check["retries"]) >= 1


def _postgres() -> dict[str, Any]:
    compose = _yaml(COMPOSE)
    assert "postgres" in compose["services"], "docker-compose.yml has no `postgres` service"
    service: dict[str, Any] = compose["services"]["postgres"]
    return service


def test_compose_postgres_profile_runs_postgres_16_with_a_volume_and_healthcheck() -> None:
    compose, pg = _yaml(COMPOSE), _postgres()
    assert pg["profiles"] == ["postgres"], "PostgreSQL runs only with --profile postgres"
    assert "profiles" not in _bot(), "the bot runs with or without the profile"
    assert re.fullmatch(r"postgres:16(\.\d+)*(-\w+)?", pg["image"]), pg["image"]
    assert pg["restart"] == "unless-stopped"
    assert "ports" not in pg, "the database is reached inside the compose network only"
    assert "paperboy-pg:/var/lib/postgresql/data" in pg["volumes"]
    assert "paperboy-pg" in (compose.get("volumes") or {}), "named volume not declared"
    env = pg["environment"]
    assert env["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")
    check = pg["healthcheck"]
    command = " ".join(check["test"][1:]) if isinstance(check["test"], list) else check["test"]
    assert "pg_isready" in command
    assert f"-U {env['POSTGRES_USER']}" in command and f"-d {env['POSTGRES_DB']}" in command
    for key in ("interval", "timeout"):
        assert re.fullmatch(r"\d+[smh]", check[key]), key
    assert int(check["retries"]) >= 1
    assert pg["logging"]["driver"] == "json-file"
    # With the profile the bot waits for a healthy database; without it, not at all.
    dependency = _bot()["depends_on"]["postgres"]
    assert dependency == {"condition": "service_healthy", "required": False}


def test_env_example_database_url_reaches_the_postgres_service() -> None:
    from sqlalchemy.engine import make_url

    from bot.store.db import database_url

    pg, env = _postgres(), _env_example()
    url = make_url(env["DATABASE_URL"])
    assert url.drivername == "postgresql" and url.host == "postgres"  # the service name
    assert (url.port or 5432) == 5432
    assert url.username == pg["environment"]["POSTGRES_USER"]
    assert url.database == pg["environment"]["POSTGRES_DB"]
    assert url.password == env["POSTGRES_PASSWORD"], "the two passwords must match"
    assert env["COMPOSE_PROFILES"] == "postgres"
    settings, _ = _docker_config_settings(env={"DATABASE_URL": env["DATABASE_URL"]})
    assert database_url(settings.database).startswith("postgresql+psycopg://paperboy:")


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_uses_slim_python_312() -> None:
    instructions = _dockerfile()
    args = _build_args(instructions)
    bases = [_resolve(a.split()[0], args) for w, a in instructions if w == "FROM"]
    assert bases and all(re.fullmatch(r"python:3\.12(\.\d+)?-slim(-\w+)?", b) for b in bases), bases


def test_dockerfile_installs_the_postgres_extra_without_dev_tools() -> None:
    runs = " ".join(a for w, a in _dockerfile() if w == "RUN")
    installs = re.findall(r"pip install ([^&;]+)", runs)
    assert installs, "no pip install in the Dockerfile"
    assert any("[postgres]" in i for i in installs)
    assert not any("dev" in i or "-e " in i for i in installs)


def test_dockerfile_runs_paperboy_as_a_non_root_user() -> None:
    final = _final_stage()
    users = [a for w, a in final if w == "USER"]
    assert users, "the final stage never switches user"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert any(w == "WORKDIR" for w, _ in final)
    cmd = [a for w, a in final if w == "CMD"]
    assert cmd and _exec_form(cmd[-1]) == ["paperboy", "run"]
    env: dict[str, str] = {}
    for word, args in final:
        if word == "ENV":
            env.update(_env_assignments(args))
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("PAPERBOY_CONFIG") == "/app/config/paperboy.yaml"


def test_dockerfile_data_volume_matches_compose() -> None:
    final = _final_stage()
    volumes = [v for w, a in final if w == "VOLUME" for v in _exec_form(a)]
    assert volumes == ["/data"]
    runs = " ".join(a for w, a in final if w == "RUN")
    assert re.search(r"chown \S+ /data", runs), "/data must belong to the non-root user"
    targets = {v.split(":")[1] for v in _bot()["volumes"]}
    assert "/data" in targets


def test_dockerfile_healthcheck_calls_healthz_with_python() -> None:
    checks = [a for w, a in _final_stage() if w == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD ")
    assert "--start-period=" in options and "--interval=" in options
    argv = _exec_form(command)
    assert argv[:2] == ["python", "-c"]
    assert argv == _bot()["healthcheck"]["test"][1:], "compose and image checks differ"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = json.dumps({"ok": self.status == 200}).encode()
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[str, type[_Health]]]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz", handler
    finally:
        server.shutdown()
        server.server_close()


def _run_healthcheck(url: str) -> int:
    """Run the image's HEALTHCHECK command here, with PAPERBOY_HEALTH_URL set to `url`."""
    checks = [a for w, a in _final_stage() if w == "HEALTHCHECK"]
    argv = _exec_form(checks[0].partition("CMD ")[2])
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        env={"PAPERBOY_HEALTH_URL": url},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


def test_healthcheck_command_is_healthy_only_on_200(
    health_server: tuple[str, type[_Health]],
) -> None:
    url, handler = health_server
    assert _run_healthcheck(url) == 0
    handler.status = 503
    assert _run_healthcheck(url) == 1  # Docker: 1 = unhealthy (2 is reserved)
    closed = url.rsplit(":", 1)[0] + ":9/healthz"  # discard port: nothing listens
    assert _run_healthcheck(closed) == 1


def test_dockerignore_keeps_secrets_and_caches_out_but_not_the_package() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    excluded = [p for p in patterns if not p.startswith("!")]
    for required in (".venv", "data", ".git", ".env", "**/__pycache__", ".pytest_cache"):
        assert required in excluded, required

    def ignored(path: str) -> bool:
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatch(p, pat) for pat in excluded for p in prefixes)

    copied = [
        src for w, a in _dockerfile() if w == "COPY" and "--from" not in a for src in a.split()[:-1]
    ]
    assert copied, "the Dockerfile copies nothing from the build context"
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such file"
        assert not ignored(src), f"COPY {src} is excluded by .dockerignore"
    for needed in ("bot/data/demo.yaml", "bot/settings.py", "handlers/commands.py"):
        assert not ignored(needed), needed


# --- configuration for the container ------------------------------------------------------


def test_docker_config_validates_and_keeps_the_database_on_the_volume() -> None:
    settings, health = _docker_config_settings(env={})
    assert settings.database == "/data/paperboy.db"
    assert settings.slack.http_host == "0.0.0.0"
    assert settings.slack.app_token is None  # unset variable = Socket Mode not configured
    url = "postgresql://paperboy:pw@postgres:5432/paperboy"
    assert _docker_config_settings(env={"DATABASE_URL": url})[0].database == url
    assert health == {"host": "0.0.0.0", "port": 8080}
    assert _health_url_default() == f"http://127.0.0.1:{health['port']}/healthz"


def test_slack_http_mode_port_in_compose_matches_the_config() -> None:
    settings, _ = _docker_config_settings(env={})
    port = settings.slack.http_port
    assert f'"{port}:{port}"' in COMPOSE.read_text(encoding="utf-8")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _referenced_variables() -> set[str]:
    """${VAR}s in effect: in the parsed configs and compose file, and the Dockerfile."""
    names: set[str] = set()
    for path in (EXAMPLE_CONFIG, DOCKER_CONFIG, COMPOSE):
        for text in _strings(_yaml(path)):
            names |= set(_ENV_REF.findall(text))
    instructions = _dockerfile()
    build_args = {a.partition("=")[0] for w, a in instructions if w == "ARG"}
    for word, args in instructions:
        if word != "FROM":
            names |= set(_ENV_REF.findall(args)) - build_args
    return names


def test_env_example_documents_every_variable_the_config_and_docker_files_use() -> None:
    referenced = _referenced_variables()
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DATABASE_URL", "PAPERBOY_CONFIG"} <= referenced
    documented = _env_example()
    missing = sorted(referenced - set(documented))
    assert not missing, f".env.example lacks {missing}"


def test_env_example_documents_only_variables_something_reads() -> None:
    # Also counted: ${VAR}s in commented-out examples (the postgres service, webhook
    # channels) and the image's own ENV defaults.
    mentioned = {
        name
        for path in (EXAMPLE_CONFIG, DOCKER_CONFIG, COMPOSE, DOCKERFILE)
        for name in _ENV_REF.findall(path.read_text(encoding="utf-8"))
    }
    image_env = {k for w, a in _final_stage() if w == "ENV" for k in _env_assignments(a)}
    stale = sorted(set(_env_example()) - mentioned - image_env - COMPOSE_READS)
    assert not stale, f".env.example documents variables nothing reads: {stale}"


def test_env_example_has_a_comment_for_each_variable_and_no_secrets() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if m := _ENV_LINE.match(line.strip()):
            assert i > 0 and lines[i - 1].startswith("# "), f"{m[1]} has no comment above it"
    for name, value in _env_example().items():
        if name.endswith(("_TOKEN", "_SECRET", "_WEBHOOK_URL", "_APPLICATION_ID")):
            assert value == "", f"{name} has a value in .env.example"
        assert not re.search(r"xox[abp]-|xapp-|hooks\.slack\.com/services/T", value), name
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in gitignore


# --- Slack app manifest -------------------------------------------------------------------

# Keys the v1 manifest schema (github.com/slackapi/manifest-schema) allows where we use them.
_MANIFEST_KEYS = {
    "": {"_metadata", "display_information", "features", "oauth_config", "settings"},
    "display_information": {"name", "description", "background_color", "long_description"},
    "features": {"app_home", "bot_user", "shortcuts", "slash_commands", "unfurl_domains"},
    "features.app_home": {
        "home_tab_enabled",
        "messages_tab_enabled",
        "messages_tab_read_only_enabled",
    },
    "features.bot_user": {"display_name", "always_online"},
    "oauth_config": {"redirect_urls", "scopes"},
    "oauth_config.scopes": {"bot", "user"},
    "settings": {
        "allowed_ip_address_ranges",
        "event_subscriptions",
        "interactivity",
        "org_deploy_enabled",
        "socket_mode_enabled",
        "token_rotation_enabled",
    },
    "settings.interactivity": {"is_enabled", "request_url", "message_menu_options_url"},
}


def test_slack_manifest_follows_the_manifest_schema() -> None:
    manifest = _yaml(MANIFEST)
    for path, allowed in _MANIFEST_KEYS.items():
        node = manifest
        for part in filter(None, path.split(".")):
            node = node.get(part, {})
        unknown = set(node) - allowed
        assert not unknown, f"{path or 'top level'}: unknown keys {sorted(unknown)}"
    info = manifest["display_information"]
    assert 1 <= len(info["name"]) <= 35
    assert 1 <= len(info["description"]) <= 140
    if "long_description" in info:
        assert 175 <= len(info["long_description"]) <= 4000
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", info.get("background_color", "#000000"))
    assert 1 <= len(manifest["features"]["bot_user"]["display_name"]) <= 80
    for command in manifest["features"]["slash_commands"]:
        assert set(command) <= {"command", "description", "usage_hint", "should_escape", "url"}
        assert re.fullmatch(r"/[a-z0-9_-]{1,31}", command["command"])
        assert 1 <= len(command["description"]) <= 2000
        assert 1 <= len(command.get("usage_hint", "x")) <= 1000


def test_slack_manifest_declares_papers_and_the_scopes_paperboy_needs() -> None:
    manifest = _yaml(MANIFEST)
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert set(commands) == {COMMAND}
    papers = commands[COMMAND]
    assert papers["usage_hint"] and papers["description"]
    assert papers.get("should_escape") is False
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "channels:history", "groups:history"} <= scopes
    assert not scopes & {"chat:write.customize", "channels:manage", "admin"}
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["org_deploy_enabled"] is False
    assert settings["interactivity"]["is_enabled"] is False
    assert EVENTS_PATH in MANIFEST.read_text(encoding="utf-8")  # the HTTP-mode hint


# --- README -------------------------------------------------------------------------------


def test_readme_deploy_section_comes_after_the_commands() -> None:
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), re.M)
    assert "Deploy" in headings and "Commands" in headings
    assert headings.index("Deploy") > headings.index("Commands")


@pytest.mark.parametrize(
    "step",
    [
        "api.slack.com/apps",
        "From an app manifest",
        "config/slack-manifest.yaml",
        "Install to Workspace",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "connections:write",
        "SLACK_SIGNING_SECRET",
        f"https://your-host{EVENTS_PATH}",
        "/invite @Paperboy",
        "Channel ID",
        "discord.com/developers/applications",
        "DISCORD_BOT_TOKEN",
        "DISCORD_APPLICATION_ID",
        "Privileged Gateway Intents",
        "applications.commands",
        "Developer Mode",
        "cp .env.example .env",
        "config/paperboy.yaml",
        "docker compose run --rm bot paperboy sync-commands",
        "docker compose up -d",
        "docker compose logs -f bot",
        "docker compose exec bot paperboy status",
        "Backups",
        "Upgrading",
        "docker compose --profile postgres up -d",
        "paperboy migrate-db",
    ],
)
def test_readme_deploy_section_covers_each_step(step: str) -> None:
    assert step in _deploy_section()


def test_readme_discord_invite_url_asks_for_the_right_permissions() -> None:
    section = _deploy_section()
    urls = re.findall(r"https://discord\.com/oauth2/authorize\?\S+", section)
    assert urls, "no invite URL in the Deploy section"
    query = dict(part.split("=", 1) for part in urls[0].split("?", 1)[1].split("&"))
    assert query["scope"] == "bot+applications.commands"
    assert int(query["permissions"]) == DISCORD_PERMISSIONS.value == 84992
    # The explanation next to it adds up to the same number.
    terms = re.search(r"`\d+` = ([^.]+)\.", section)
    assert terms, "the permissions integer is not explained"
    assert sum(int(n) for n in re.findall(r"\d+", terms.group(1))) == DISCORD_PERMISSIONS.value
