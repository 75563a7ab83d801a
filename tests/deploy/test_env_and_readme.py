""".env.example documents exactly what the config and Docker files read, with no secret in
it; the "Deploy" section (docs/operations.md, linked from the README's) covers each step and
asks Discord for the right permissions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from deploy.files import (
    COMPOSE,
    COMPOSE_READS,
    DISCORD_PERMISSIONS,
    DOCKER_CONFIG,
    DOCKERFILE,
    ENV_EXAMPLE,
    ENV_LINE,
    ENV_REF,
    EXAMPLE_CONFIG,
    README,
    ROOT,
    deploy_section,
    dockerfile_commands,
    env_example,
    image_env,
    yaml_of,
)

from bot.chat.slack_transport import EVENTS_PATH

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
        for text in _strings(yaml_of(path)):
            names |= set(ENV_REF.findall(text))
    commands = dockerfile_commands()
    build_args = {v.partition("=")[0] for c in commands if c.cmd == "ARG" for v in c.value}
    for command in commands:
        if command.cmd != "FROM":
            names |= set(ENV_REF.findall(command.original)) - build_args
    return names


def test_env_example_documents_every_variable_the_config_and_docker_files_use() -> None:
    referenced = _referenced_variables()
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DATABASE_URL", "PAPERBOY_CONFIG"} <= referenced
    documented = env_example()
    missing = sorted(referenced - set(documented))
    assert not missing, f".env.example lacks {missing}"


def test_env_example_documents_only_variables_something_reads() -> None:
    # Also counted: ${VAR}s in commented-out examples (the postgres service, webhook
    # channels) and the image's own ENV defaults.
    mentioned = {
        name
        for path in (EXAMPLE_CONFIG, DOCKER_CONFIG, COMPOSE, DOCKERFILE)
        for name in ENV_REF.findall(path.read_text(encoding="utf-8"))
    }
    stale = sorted(set(env_example()) - mentioned - set(image_env()) - COMPOSE_READS)
    assert not stale, f".env.example documents variables nothing reads: {stale}"


def test_env_example_has_a_comment_for_each_variable_and_no_secrets() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if m := ENV_LINE.match(line.strip()):
            assert i > 0 and lines[i - 1].startswith("# "), f"{m[1]} has no comment above it"
    for name, value in env_example().items():
        if name.endswith(("_TOKEN", "_SECRET", "_WEBHOOK_URL", "_APPLICATION_ID")):
            assert value == "", f"{name} has a value in .env.example"
        assert not re.search(r"xox[abp]-|xapp-|hooks\.slack\.com/services/T", value), name
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in gitignore


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
    assert step in deploy_section()


def test_readme_discord_invite_url_asks_for_the_right_permissions() -> None:
    section = deploy_section()
    urls = re.findall(r"https://discord\.com/oauth2/authorize\?\S+", section)
    assert urls, "no invite URL in the Deploy section"
    query = dict(part.split("=", 1) for part in urls[0].split("?", 1)[1].split("&"))
    assert query["scope"] == "bot+applications.commands"
    assert int(query["permissions"]) == DISCORD_PERMISSIONS.value == 84992
    # The explanation next to it adds up to the same number.
    terms = re.search(r"`\d+` = ([^.]+)\.", section)
    assert terms, "the permissions integer is not explained"
    assert sum(int(n) for n in re.findall(r"\d+", terms.group(1))) == DISCORD_PERMISSIONS.value
