"""What the deployment tests read: the compose file (with Compose's interpolation), the
Dockerfile (through BuildKit's parser, the `dockerfile` package), .dockerignore, .env.example,
the container's config, the "Deploy" section of docs/operations.md; schemas validate through
jsonschema."""

from __future__ import annotations

import importlib.resources
import json
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import discord
import dockerfile
import jsonschema
import pytest
import yaml

from bot.settings import Settings, validate

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
MANIFEST = ROOT / "config" / "slack-manifest.yaml"
DOCKER_CONFIG = ROOT / "config" / "paperboy.docker.yaml"
EXAMPLE_CONFIG = ROOT / "config" / "paperboy.example.yaml"
README = ROOT / "README.md"
OPERATIONS = ROOT / "docs" / "operations.md"  # the README's Deploy section moved here

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-[^}]*)?\}")
ENV_LINE = re.compile(r"^#?\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$")

# Variables Compose itself reads from .env (no ${VAR} mentions them).
COMPOSE_READS = {"COMPOSE_PROFILES"}

# The Discord permissions the README's invite URL asks for.
DISCORD_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True
)


# --- helpers ----------------------------------------------------------------------------


def yaml_of(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    """Every variable .env.example mentions (commented out or not), with its value."""
    names: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := ENV_LINE.match(line.strip()):
            names[m[1]] = m[2]
    return names


def env_as_copied() -> dict[str, str]:
    """The environment Compose reads from `.env` made by `cp .env.example .env`: the
    lines that are not commented out."""
    names: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") and (m := ENV_LINE.match(line.strip())):
            names[m[1]] = m[2]
    return names


def env_postgres() -> dict[str, str]:
    """`.env` with the storage lines uncommented, as .env.example says for PostgreSQL."""
    env = env_example()
    return {
        **env_as_copied(),
        **{k: env[k] for k in ("DATABASE_URL", "POSTGRES_PASSWORD", "COMPOSE_PROFILES")},
    }


INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_]\w*))"
)


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """`node` with Compose's interpolation applied, as `docker compose config` does:
    ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
    ``${VAR?error}``, ``${VAR:+alt}``, ``$$``. An unset variable is empty (Compose warns);
    a `?` on an unset (or, with `:`, empty) one fails the test, as it fails Compose."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def one(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["named"]
        value, op, arg = env.get(name), m["op"] or "", m["arg"] or ""
        missing = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return arg if missing else str(value)
        if op.endswith("?"):
            if missing:
                pytest.fail(f"Compose refuses to start: ${{{name}}} is not set ({arg})")
            return str(value)
        if op.endswith("+"):
            return "" if missing else arg
        return value or ""

    return INTERPOLATION.sub(one, node)


def compose_file(env: dict[str, str]) -> dict[str, Any]:
    compose: dict[str, Any] = interpolate(yaml_of(COMPOSE), env)
    return compose


def bot_service(env: dict[str, str] | None = None) -> dict[str, Any]:
    services = compose_file(env_as_copied() if env is None else env)["services"]
    assert "bot" in services, "docker-compose.yml has no `bot` service"
    bot: dict[str, Any] = services["bot"]
    return bot


def mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) of each of a service's volumes, short or long syntax."""
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            out.append((source, target, "ro" in (mode[0].split(",") if mode else [])))
        else:
            out.append((volume["source"], volume["target"], bool(volume.get("read_only"))))
    return out


def is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def mount_of(service: dict[str, Any], path: str) -> tuple[str, str, bool]:
    """The mount `path` (inside the container) is on, the innermost one."""
    found = [m for m in mounts(service) if PurePosixPath(path).is_relative_to(PurePosixPath(m[1]))]
    assert found, f"{path} is on no volume of the service"
    return max(found, key=lambda m: len(m[1]))


def compose_schema() -> dict[str, Any]:
    """The Compose Specification's JSON Schema, as check-jsonschema vendors it."""
    vendor = importlib.resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = cls(schema).iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def deploy_section() -> str:
    text = OPERATIONS.read_text(encoding="utf-8")
    match = re.search(r"^## Deploy\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "docs/operations.md has no '## Deploy' section"
    return match.group(1)


def docker_config_settings(env: dict[str, str]) -> tuple[Settings, dict[str, Any]]:
    """Validate config/paperboy.docker.yaml; the `health:` block is checked by the caller
    and left out when this version of Settings does not know it yet."""
    raw = yaml_of(DOCKER_CONFIG)
    health = raw.get("health")
    if "health" not in Settings.model_fields:
        raw = {k: v for k, v in raw.items() if k != "health"}
    settings = validate(raw, source_file=str(DOCKER_CONFIG), env=env, base_dir=DOCKER_CONFIG.parent)
    return settings, health


# --- Dockerfile, read by BuildKit's parser ---------------------------------------------------


def dockerfile_commands() -> tuple[dockerfile.Command, ...]:
    return dockerfile.parse_file(str(DOCKERFILE))


def dockerfile_stages() -> list[list[dockerfile.Command]]:
    stages: list[list[dockerfile.Command]] = []
    for command in dockerfile_commands():
        if command.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(command)
    return stages


def final_stage() -> list[dockerfile.Command]:
    return dockerfile_stages()[-1]


def build_args() -> dict[str, str]:
    """ARGs declared before the first FROM, with their defaults."""
    args: dict[str, str] = {}
    for command in dockerfile_commands():
        if command.cmd == "FROM":
            break
        if command.cmd == "ARG":
            for value in command.value:
                name, _, default = value.partition("=")
                args[name] = default
    return args


def resolve(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def image_env() -> dict[str, str]:
    """The final stage's ENV, as the image has it."""
    env: dict[str, str] = {}
    for command in final_stage():
        if command.cmd == "ENV":
            pairs = command.value
            env.update(zip(pairs[::2], pairs[1::2], strict=True))
    return env


def healthcheck_argv(source: str) -> list[str]:
    """The healthcheck command of the image (`Dockerfile`) or of compose's bot service."""
    if source == "Dockerfile":
        checks = [c for c in final_stage() if c.cmd == "HEALTHCHECK"]
        assert len(checks) == 1 and checks[0].value[0] == "CMD", checks
        assert checks[0].json, "HEALTHCHECK CMD in exec form: no shell in the way"
        return list(checks[0].value[1:])
    test = bot_service()["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] == "CMD", test
    return list(test[1:])


def ignore_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: relative to the context's root, `*` and
    `?` within one path element, `**` across any number of them (zero included)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str) -> bool:
    """Whether the build context leaves `path` out (.dockerignore; the last matching rule
    wins; a rule matching a directory leaves out what is in it)."""
    rules = [
        line.strip().strip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for rule in rules:
        negate, pattern = rule.startswith("!"), ignore_pattern(rule.lstrip("!"))
        if any(pattern.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


def docker_engine_missing() -> str | None:
    """None when a Docker engine answers; else why not (for the skip)."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    if info.returncode != 0:
        reason = (info.stderr.strip().splitlines() or ["no reason given"])[-1]
        return f"no Docker engine (`docker info`: {reason})"
    return None
