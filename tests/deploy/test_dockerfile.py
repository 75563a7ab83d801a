"""The Dockerfile checked by what it does: the image built, inspected and run where a Docker
engine answers (skipped, saying so, where none does); everywhere, parsed by BuildKit's own
parser and linted, its build stage's install run on exactly the build context it copies
(.dockerignore applied), and its healthcheck command (and compose's) run against a
/healthz that answers 200, then 503, then nothing."""

from __future__ import annotations

import http.server
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
from pathlib import Path

import pytest
from deploy.files import (
    ROOT,
    build_args,
    docker_engine_missing,
    dockerfile_commands,
    dockerfile_stages,
    dockerignored,
    healthcheck_argv,
    resolve,
)
from packaging.specifiers import SpecifierSet


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
    argv = healthcheck_argv(source)
    assert _run_healthcheck(argv, url) == 0
    handler.status = 503
    assert _run_healthcheck(argv, url) == 1  # Docker: 1 = unhealthy (2 is reserved)
    closed = url.rsplit(":", 1)[0] + ":9/healthz"  # discard port: nothing listens
    assert _run_healthcheck(argv, closed) == 1


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_parses_and_passes_lint() -> None:
    """BuildKit's parser reads it; then the rules an image of a long-running service
    needs (as hadolint checks them)."""
    commands = dockerfile_commands()
    args = build_args()
    stages = dockerfile_stages()
    names: list[str] = []
    for stage in stages:
        image, *alias = stage[0].value
        base = resolve(image, args)
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
    for stage in dockerfile_stages():
        base = resolve(stage[0].value[0], build_args())
        if base.startswith("python:"):
            version = re.match(r"python:(\d+\.\d+)", base)
            assert version and version[1] in supported, f"{base} vs {supported}"


def test_dockerignore_keeps_secrets_and_caches_out_but_not_the_package() -> None:
    for secret in (".env", ".env.local", "data/paperboy.db", "config/paperboy.yaml", ".venv"):
        assert dockerignored(secret), f"{secret} would be sent to the Docker engine"
    assert not dockerignored(".env.example")
    assert dockerignored("bot/__pycache__/x.pyc") and dockerignored("tests/test_deploy.py")
    assert not dockerignored("bot/data/demo.yaml"), "`data` is the top-level folder only"
    copied = [
        src
        for c in dockerfile_commands()
        if c.cmd == "COPY" and not any(f.startswith("--from") for f in c.flags)
        for src in c.value[:-1]
    ]
    assert copied, "the Dockerfile copies nothing from the build context"
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such file"
        assert not dockerignored(src), f"COPY {src} is excluded by .dockerignore"


def _build_context(into: Path) -> Path:
    """What the build stage has in its WORKDIR: the files its COPYs take from the build
    context, .dockerignore applied."""
    into.mkdir()
    for command in dockerfile_stages()[0]:
        if command.cmd != "COPY" or command.flags:
            continue
        *sources, dest = command.value
        for src in sources:
            target = into / dest / Path(src).name if dest.endswith("/") else into / dest
            path = ROOT / src
            if path.is_dir():
                for file in path.rglob("*"):
                    rel = file.relative_to(ROOT).as_posix()
                    if file.is_file() and not dockerignored(rel):
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
        for c in dockerfile_stages()[0]
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
    reason = docker_engine_missing()
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
        assert image["Healthcheck"]["Test"] == ["CMD", *healthcheck_argv("docker-compose.yml")]
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
