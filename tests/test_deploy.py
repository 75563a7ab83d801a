"""Deployment files, checked by what they do rather than by what they say.

- docker-compose.yml: valid against the Compose Specification's JSON Schema (the copy
  check-jsonschema vendors), after Compose's own variable interpolation with the values of
  .env.example; its references resolve (named volumes, bind mounts, build context,
  depends_on, profiles); the bot reaches its configuration through a read-only mount and
  keeps its database on a named volume; its healthcheck command, run here, is healthy on
  200 only; the PostgreSQL profile's DATABASE_URL reaches the postgres service.
- Dockerfile: built, and the image inspected and run, where a Docker engine answers
  (skipped, saying so, where none does); everywhere, parsed by BuildKit's own parser
  (the `dockerfile` package) and linted, its install step run on exactly the build context
  it copies (.dockerignore applied): the wheel has the `paperboy` command and its data.
- config/slack-manifest.yaml: valid against the part of Slack's app manifest schema
  (github.com/slackapi/manifest-schema, v1) that Paperboy uses, written below as a JSON
  Schema; declares the /papers command and the scopes the bot calls for.
- .env.example documents what the files read; the README's "Deploy" section covers each step.
"""

from __future__ import annotations

import http.server
import importlib.resources
import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import discord
import dockerfile
import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

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


def _env_example() -> dict[str, str]:
    """Every variable .env.example mentions (commented out or not), with its value."""
    names: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if m := _ENV_LINE.match(line.strip()):
            names[m[1]] = m[2]
    return names


def _env_as_copied() -> dict[str, str]:
    """The environment Compose reads from `.env` made by `cp .env.example .env`: the
    lines that are not commented out."""
    names: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") and (m := _ENV_LINE.match(line.strip())):
            names[m[1]] = m[2]
    return names


def _env_postgres() -> dict[str, str]:
    """`.env` with the storage lines uncommented, as .env.example says for PostgreSQL."""
    env = _env_example()
    return {
        **_env_as_copied(),
        **{k: env[k] for k in ("DATABASE_URL", "POSTGRES_PASSWORD", "COMPOSE_PROFILES")},
    }


_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_]\w*))"
)


def _interpolate(node: Any, env: dict[str, str]) -> Any:
    """`node` with Compose's interpolation applied, as `docker compose config` does:
    ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
    ``${VAR?error}``, ``${VAR:+alt}``, ``$$``. An unset variable is empty (Compose warns);
    a `?` on an unset (or, with `:`, empty) one fails the test, as it fails Compose."""
    if isinstance(node, dict):
        return {k: _interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env) for v in node]
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

    return _INTERPOLATION.sub(one, node)


def _compose(env: dict[str, str]) -> dict[str, Any]:
    compose: dict[str, Any] = _interpolate(_yaml(COMPOSE), env)
    return compose


def _bot(env: dict[str, str] | None = None) -> dict[str, Any]:
    services = _compose(_env_as_copied() if env is None else env)["services"]
    assert "bot" in services, "docker-compose.yml has no `bot` service"
    bot: dict[str, Any] = services["bot"]
    return bot


def _mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read-only) of each of a service's volumes, short or long syntax."""
    out = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            out.append((source, target, "ro" in (mode[0].split(",") if mode else [])))
        else:
            out.append((volume["source"], volume["target"], bool(volume.get("read_only"))))
    return out


def _is_bind(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _mount_of(service: dict[str, Any], path: str) -> tuple[str, str, bool]:
    """The mount `path` (inside the container) is on, the innermost one."""
    found = [m for m in _mounts(service) if PurePosixPath(path).is_relative_to(PurePosixPath(m[1]))]
    assert found, f"{path} is on no volume of the service"
    return max(found, key=lambda m: len(m[1]))


def _compose_schema() -> dict[str, Any]:
    """The Compose Specification's JSON Schema, as check-jsonschema vendors it."""
    vendor = importlib.resources.files("check_jsonschema") / "builtin_schemas" / "vendor"
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text("utf-8"))
    return schema


def _schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = cls(schema).iter_errors(document)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def _deploy_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Deploy\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, "README.md has no '## Deploy' section"
    return match.group(1)


def _docker_config_settings(env: dict[str, str]) -> tuple[Settings, dict[str, Any]]:
    """Validate config/paperboy.docker.yaml; the `health:` block is checked by the caller
    and left out when this version of Settings does not know it yet."""
    raw = _yaml(DOCKER_CONFIG)
    health = raw.get("health")
    if "health" not in Settings.model_fields:
        raw = {k: v for k, v in raw.items() if k != "health"}
    settings = validate(raw, source_file=str(DOCKER_CONFIG), env=env, base_dir=DOCKER_CONFIG.parent)
    return settings, health


# --- Dockerfile, read by BuildKit's parser ---------------------------------------------------


def _dockerfile() -> tuple[dockerfile.Command, ...]:
    return dockerfile.parse_file(str(DOCKERFILE))


def _stages() -> list[list[dockerfile.Command]]:
    stages: list[list[dockerfile.Command]] = []
    for command in _dockerfile():
        if command.cmd == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(command)
    return stages


def _final_stage() -> list[dockerfile.Command]:
    return _stages()[-1]


def _build_args() -> dict[str, str]:
    """ARGs declared before the first FROM, with their defaults."""
    args: dict[str, str] = {}
    for command in _dockerfile():
        if command.cmd == "FROM":
            break
        if command.cmd == "ARG":
            for value in command.value:
                name, _, default = value.partition("=")
                args[name] = default
    return args


def _resolve(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def _image_env() -> dict[str, str]:
    """The final stage's ENV, as the image has it."""
    env: dict[str, str] = {}
    for command in _final_stage():
        if command.cmd == "ENV":
            pairs = command.value
            env.update(zip(pairs[::2], pairs[1::2], strict=True))
    return env


def _healthcheck_argv(source: str) -> list[str]:
    """The healthcheck command of the image (`Dockerfile`) or of compose's bot service."""
    if source == "Dockerfile":
        checks = [c for c in _final_stage() if c.cmd == "HEALTHCHECK"]
        assert len(checks) == 1 and checks[0].value[0] == "CMD", checks
        assert checks[0].json, "HEALTHCHECK CMD in exec form: no shell in the way"
        return list(checks[0].value[1:])
    test = _bot()["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] == "CMD", test
    return list(test[1:])


def _ignore_pattern(pattern: str) -> re.Pattern[str]:
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


def _dockerignored(path: str) -> bool:
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
        negate, pattern = rule.startswith("!"), _ignore_pattern(rule.lstrip("!"))
        if any(pattern.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


def _docker_engine() -> str | None:
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


# --- docker-compose.yml -------------------------------------------------------------------


@pytest.mark.parametrize("env", ["as copied", "postgres"])
def test_compose_file_matches_the_compose_specification(env: str) -> None:
    values = _env_as_copied() if env == "as copied" else _env_postgres()
    assert _schema_errors(_compose_schema(), _yaml(COMPOSE)) == []
    assert _schema_errors(_compose_schema(), _compose(values)) == []


def test_the_compose_schema_catches_a_broken_file() -> None:
    """The validation above can fail: a misspelt key and a wrong type are caught."""
    compose = _yaml(COMPOSE)
    compose["services"]["bot"]["restrat"] = "always"
    compose["services"]["bot"]["depends_on"]["postgres"]["condition"] = "service_ready"
    errors = _schema_errors(_compose_schema(), compose)
    assert any("restrat" in e for e in errors), errors
    assert any("service_ready" in e for e in errors), errors


@pytest.mark.parametrize("env", ["as copied", "postgres"])
def test_compose_references_resolve(env: str) -> None:
    compose = _compose(_env_as_copied() if env == "as copied" else _env_postgres())
    services: dict[str, Any] = compose["services"]
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in services.items():
        for source, target, _ in _mounts(service):
            assert target.startswith("/"), f"{name}: {target} is not an absolute path"
            if _is_bind(source):
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
    bot = _bot()
    config_path = bot["environment"]["PAPERBOY_CONFIG"]
    source, target, read_only = _mount_of(bot, config_path)
    assert _is_bind(source) and read_only, "the configuration is mounted read-only"
    on_host = (ROOT / source / PurePosixPath(config_path).relative_to(target)).resolve()
    assert on_host.parent == DOCKER_CONFIG.parent, "config/paperboy.docker.yaml goes there"
    assert _image_env()["PAPERBOY_CONFIG"] == config_path, "image and compose agree"

    settings, health = _docker_config_settings(env={})
    source, target, read_only = _mount_of(bot, settings.database)
    assert not _is_bind(source) and not read_only, "the database is on a writable volume"
    volumes = [v for c in _final_stage() if c.cmd == "VOLUME" for v in c.value]
    assert target in volumes, "the image declares the data directory a VOLUME"
    owner = " ".join(v for c in _final_stage() if c.cmd == "RUN" for v in c.value)
    user = next(c.value[0] for c in reversed(_final_stage()) if c.cmd == "USER")
    assert re.search(rf"chown {re.escape(user.split(':')[0])}\S* {re.escape(target)}\b", owner), (
        "a fresh volume takes the owner of the image's directory: the bot's user"
    )
    # /healthz is served where the image's healthcheck calls it
    assert health == {"host": "0.0.0.0", "port": 8080}
    assert _image_env()["PAPERBOY_HEALTH_URL"] == f"http://127.0.0.1:{health['port']}/healthz"


def test_compose_publishes_no_port_by_default() -> None:
    # Socket Mode needs no open port; /healthz is called from inside the container.
    assert "ports" not in _bot()


def test_slack_http_mode_port_in_compose_matches_the_config() -> None:
    settings, _ = _docker_config_settings(env={})
    port = settings.slack.http_port
    assert f'"{port}:{port}"' in COMPOSE.read_text(encoding="utf-8")


def test_env_example_database_url_reaches_the_postgres_service() -> None:
    from sqlalchemy.engine import make_url

    from bot.store.db import database_url

    env = _env_postgres()
    compose = _compose(env)
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
    settings, _ = _docker_config_settings(env={"DATABASE_URL": env["DATABASE_URL"]})
    assert database_url(settings.database).startswith("postgresql+psycopg://paperboy:")


def test_the_postgres_service_refuses_to_start_without_a_password() -> None:
    """As copied (storage lines commented out) POSTGRES_PASSWORD is empty: the postgres
    image refuses to initialise without one, rather than running with no password."""
    postgres = _compose(_env_as_copied())["services"]["postgres"]
    assert postgres["environment"]["POSTGRES_PASSWORD"] == ""


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


def _run_healthcheck(argv: list[str], url: str) -> int:
    """Run a healthcheck command here, `python` being this interpreter and
    PAPERBOY_HEALTH_URL (which the image sets) being `url`."""
    assert argv[0] == "python", "slim images have no curl: the check runs python"
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        env={"PAPERBOY_HEALTH_URL": url},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


@pytest.mark.parametrize("source", ["Dockerfile", "docker-compose.yml"])
def test_healthcheck_command_is_healthy_only_on_200(
    health_server: tuple[str, type[_Health]], source: str
) -> None:
    url, handler = health_server
    argv = _healthcheck_argv(source)
    assert _run_healthcheck(argv, url) == 0
    handler.status = 503
    assert _run_healthcheck(argv, url) == 1  # Docker: 1 = unhealthy (2 is reserved)
    closed = url.rsplit(":", 1)[0] + ":9/healthz"  # discard port: nothing listens
    assert _run_healthcheck(argv, closed) == 1


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_parses_and_passes_lint() -> None:
    """BuildKit's parser reads it; then the rules an image of a long-running service
    needs (as hadolint checks them)."""
    commands = _dockerfile()
    args = _build_args()
    stages = _stages()
    names: list[str] = []
    for stage in stages:
        image, *alias = stage[0].value
        base = _resolve(image, args)
        assert "$" not in base, f"FROM {image}: an ARG without a default"
        if base not in names:  # an image, not an earlier stage
            tag = base.rpartition("/")[2].partition(":")[2]
            assert tag and tag != "latest", f"FROM {base}: pin a tag"
        for command in stage:
            for flag in command.flags:
                if flag.startswith("--from="):
                    assert flag.partition("=")[2] in names, f"{command.original}: no such stage"
            if command.cmd == "WORKDIR":
                assert command.value[0].startswith("/"), command.original
            if command.cmd == "RUN":
                assert not re.search(r"\bsudo\b|\bcd\s", command.value[0]), command.original
        names += [alias[1]] if len(alias) == 2 and alias[0].upper() == "AS" else []
    final = stages[-1]
    users = [c.value[0].split(":")[0] for c in final if c.cmd == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the service runs as a non-root user"
    starts = [c for c in final if c.cmd in {"CMD", "ENTRYPOINT"}]
    assert starts and all(c.json for c in starts), "exec form: the stop signal reaches it"
    assert [list(c.value) for c in final if c.cmd == "CMD"][-1] == ["paperboy", "run"]
    assert sum(c.cmd == "HEALTHCHECK" for c in commands) == 1
    assert not any(c.cmd == "ADD" for c in commands), "COPY, not ADD (no remote fetches)"


def test_the_base_image_python_is_one_paperboy_supports() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    supported = SpecifierSet(requires["requires-python"])
    for stage in _stages():
        base = _resolve(stage[0].value[0], _build_args())
        if base.startswith("python:"):
            version = re.match(r"python:(\d+\.\d+)", base)
            assert version and version[1] in supported, f"{base} vs {supported}"


def test_dockerignore_keeps_secrets_and_caches_out_but_not_the_package() -> None:
    for secret in (".env", ".env.local", "data/paperboy.db", "config/paperboy.yaml", ".venv"):
        assert _dockerignored(secret), f"{secret} would be sent to the Docker engine"
    assert not _dockerignored(".env.example")
    assert _dockerignored("bot/__pycache__/x.pyc") and _dockerignored("tests/test_deploy.py")
    assert not _dockerignored("bot/data/demo.yaml"), "`data` is the top-level folder only"
    copied = [
        src
        for c in _dockerfile()
        if c.cmd == "COPY" and not any(f.startswith("--from") for f in c.flags)
        for src in c.value[:-1]
    ]
    assert copied, "the Dockerfile copies nothing from the build context"
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such file"
        assert not _dockerignored(src), f"COPY {src} is excluded by .dockerignore"


def _build_context(into: Path) -> Path:
    """What the build stage has in its WORKDIR: the files its COPYs take from the build
    context, .dockerignore applied."""
    into.mkdir()
    for command in _stages()[0]:
        if command.cmd != "COPY" or command.flags:
            continue
        *sources, dest = command.value
        for src in sources:
            target = into / dest / Path(src).name if dest.endswith("/") else into / dest
            path = ROOT / src
            if path.is_dir():
                for file in path.rglob("*"):
                    rel = file.relative_to(ROOT).as_posix()
                    if file.is_file() and not _dockerignored(rel):
                        out = target / file.relative_to(path)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(file, out)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    return into


def test_the_build_stage_installs_paperboy_from_what_it_copies(tmp_path: Path) -> None:
    """The build stage's `pip install ".[postgres]"`, run on exactly what it copies: the
    package builds, carries its data files and the `paperboy` command that CMD runs, and
    the extra it asks for exists (the dev tools stay out)."""
    installs = [
        m
        for c in _stages()[0]
        if c.cmd == "RUN"
        for m in re.findall(r"pip install (\S+)", c.value[0])
    ]
    assert len(installs) == 1, installs
    spec = installs[0].strip("\"'")
    path, _, extras = spec.partition("[")
    assert path == ".", "installs the copied project"
    extras_asked = set(extras.rstrip("]").split(",")) - {""}
    context = _build_context(tmp_path / "src")
    wheel_dir = tmp_path / "wheel"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps"]  # isolated, as in the image
    built = subprocess.run(
        [*pip_wheel, "-q", "-w", str(wheel_dir), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheel_dir.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        files = set(zf.namelist())
        meta = next(zf.read(n).decode() for n in files if n.endswith(".dist-info/METADATA"))
        entry = next(zf.read(n).decode() for n in files if n.endswith("entry_points.txt"))
    for needed in ("bot/data/demo.yaml", "bot/data/sample-dump.txt", "handlers/commands.py"):
        assert needed in files, f"the image would lack {needed}"
    assert not any(f.startswith("tests/") for f in files)
    assert re.search(r"^paperboy\s*=", entry, re.M), "no `paperboy` command for CMD"
    provided = set(re.findall(r"^Provides-Extra: (\S+)", meta, re.M))
    assert extras_asked == {"postgres"} and extras_asked <= provided, (extras_asked, provided)
    assert re.search(r"^Requires-Dist: psycopg\S*.*extra == \"postgres\"", meta, re.M)


def test_the_image_builds_and_runs_as_the_files_say() -> None:
    """With a Docker engine: build the image, then ask it what the other tests read."""
    reason = _docker_engine()
    if reason is not None:
        pytest.skip(f"{reason}: the image is not built here (the parse and lint tests ran)")
    tag = f"paperboy-test:{uuid.uuid4().hex[:12]}"

    def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )

    built = docker("build", "-t", tag, str(ROOT), timeout=1800)
    assert built.returncode == 0, built.stderr[-3000:]
    try:
        (config,) = json.loads(docker("image", "inspect", tag).stdout)
        image = config["Config"]
        assert image["Cmd"] == ["paperboy", "run"]
        assert "/data" in (image.get("Volumes") or {})
        assert image["Healthcheck"]["Test"] == ["CMD", *_healthcheck_argv("docker-compose.yml")]
        uid = docker("run", "--rm", tag, "id", "-u")
        assert uid.returncode == 0 and uid.stdout.strip() not in {"", "0"}, uid
        imports = docker("run", "--rm", tag, "python", "-c", "import psycopg, bot.cli")
        assert imports.returncode == 0, imports.stderr
        dev = docker("run", "--rm", tag, "python", "-c", "import pytest")
        assert dev.returncode != 0, "the dev tools are not in the image"
        writable = docker("run", "--rm", tag, "touch", "/data/probe")
        assert writable.returncode == 0, writable.stderr
        assert docker("run", "--rm", tag, "paperboy", "--help").returncode == 0
    finally:
        docker("image", "rm", "-f", tag)


# --- .env.example -------------------------------------------------------------------------


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
    commands = _dockerfile()
    build_args = {v.partition("=")[0] for c in commands if c.cmd == "ARG" for v in c.value}
    for command in commands:
        if command.cmd != "FROM":
            names |= set(_ENV_REF.findall(command.original)) - build_args
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
    stale = sorted(set(_env_example()) - mentioned - set(_image_env()) - COMPOSE_READS)
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

_TEXT = {"type": "string", "minLength": 1}
_URL = {"type": "string", "pattern": r"^https?://", "maxLength": 3000}
_FLAG = {"type": "boolean"}
_SCOPES = {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 255}

# The part of Slack's app manifest schema (slackapi/manifest-schema, v1) Paperboy uses:
# every object closed (an unknown key is an error, as Slack reports it), lengths and
# patterns as Slack enforces them. Parts Paperboy does not use (workflows, functions,
# datastores, app directory) are left out, so the manifest may not grow them unnoticed.
SLACK_MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["display_information"],
    "additionalProperties": False,
    "properties": {
        "_metadata": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                k: {"type": "integer"}
                for k in ("schema_version", "min_version", "major_version", "minor_version")
            },
        },
        "display_information": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {**_TEXT, "maxLength": 35},
                "description": {**_TEXT, "maxLength": 140},
                "background_color": {
                    "type": "string",
                    "pattern": "^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$",
                },
                "long_description": {"type": "string", "minLength": 175, "maxLength": 4000},
            },
        },
        "features": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "app_home": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        k: _FLAG
                        for k in (
                            "home_tab_enabled",
                            "messages_tab_enabled",
                            "messages_tab_read_only_enabled",
                        )
                    },
                },
                "bot_user": {
                    "type": "object",
                    "required": ["display_name"],
                    "additionalProperties": False,
                    "properties": {
                        "display_name": {**_TEXT, "maxLength": 80},
                        "always_online": _FLAG,
                    },
                },
                "slash_commands": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {
                        "type": "object",
                        "required": ["command", "description"],
                        "additionalProperties": False,
                        "properties": {
                            "command": {
                                "type": "string",
                                "minLength": 2,
                                "maxLength": 32,
                                "pattern": "^/",
                            },
                            "url": _URL,
                            "description": {**_TEXT, "maxLength": 2000},
                            "usage_hint": {**_TEXT, "maxLength": 1000},
                            "should_escape": _FLAG,
                        },
                    },
                },
                "unfurl_domains": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 255},
                    "minItems": 1,
                    "maxItems": 5,
                    "uniqueItems": True,
                },
            },
        },
        "oauth_config": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "redirect_urls": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": 2500},
                    "maxItems": 1000,
                    "uniqueItems": True,
                },
                "scopes": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        k: _SCOPES for k in ("bot", "user", "bot_optional", "user_optional")
                    },
                },
                "token_management_enabled": _FLAG,
                "pkce_enabled": _FLAG,
            },
        },
        "settings": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "allowed_ip_address_ranges": {"type": "array", "items": {"type": "string"}},
                "event_subscriptions": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "request_url": _URL,
                        "bot_events": {"type": "array", "items": {"type": "string"}},
                        "user_events": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "incoming_webhooks": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"incoming_webhooks_enabled": _FLAG},
                },
                "interactivity": {
                    "type": "object",
                    "required": ["is_enabled"],
                    "additionalProperties": False,
                    "properties": {
                        "is_enabled": _FLAG,
                        "request_url": _URL,
                        "message_menu_options_url": _URL,
                    },
                },
                "org_deploy_enabled": _FLAG,
                "socket_mode_enabled": _FLAG,
                "is_hosted": _FLAG,
                "token_rotation_enabled": _FLAG,
            },
        },
    },
}


def test_slack_manifest_parses_and_follows_the_manifest_schema() -> None:
    assert _schema_errors(SLACK_MANIFEST_SCHEMA, _yaml(MANIFEST)) == []


@pytest.mark.parametrize(
    ("where", "value", "complaint"),
    [
        (("features", "slash_commands", 0, "command"), "papers", "does not match"),
        (("display_information", "description"), "x" * 141, "is too long"),
        (("display_information", "background_color"), "navy", "does not match"),
        (("settings", "socket_mode"), True, "Additional properties"),
        (("settings", "interactivity"), {}, "'is_enabled' is a required property"),
        (("oauth_config", "scopes", "bot"), "commands", "is not of type 'array'"),
    ],
)
def test_the_manifest_schema_rejects_what_slack_rejects(
    where: tuple[Any, ...], value: Any, complaint: str
) -> None:
    manifest = _yaml(MANIFEST)
    node = manifest
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    errors = _schema_errors(SLACK_MANIFEST_SCHEMA, manifest)
    assert any(complaint in e for e in errors), errors


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
