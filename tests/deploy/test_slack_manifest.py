"""config/slack-manifest.yaml parses and is valid against the part of Slack's app manifest
schema (github.com/slackapi/manifest-schema, v1) that Paperboy uses, written here as a JSON
Schema; the schema rejects what Slack rejects; the manifest declares /papers and the scopes
the bot calls for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy.files import (
    MANIFEST,
    schema_errors,
    yaml_of,
)

from bot.chat.slack_command import COMMAND
from bot.chat.slack_transport import EVENTS_PATH

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
    assert schema_errors(SLACK_MANIFEST_SCHEMA, yaml_of(MANIFEST)) == []


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
    manifest = yaml_of(MANIFEST)
    node = manifest
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    errors = schema_errors(SLACK_MANIFEST_SCHEMA, manifest)
    assert any(complaint in e for e in errors), errors


def test_slack_manifest_declares_papers_and_the_scopes_paperboy_needs() -> None:
    manifest = yaml_of(MANIFEST)
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
    assert settings["interactivity"]["is_enabled"] is True  # the feedback buttons
    events = settings["event_subscriptions"]["bot_events"]
    assert {"reaction_added", "reaction_removed"} <= set(events)  # a vote, and taking it back
    assert EVENTS_PATH in MANIFEST.read_text(encoding="utf-8")  # the HTTP-mode hint


# The bot scope each Slack Web API method Paperboy calls needs (docs.slack.dev, each
# method's "Required scopes"). A method called in bot/ or handlers/ but missing here fails
# the test below: say which scope it needs, and the manifest must grant it.
METHOD_SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "conversations.history": "channels:history",  # and groups:history / im:history
    "conversations.open": "im:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
}
_LITERAL = re.compile(r"[\"'](chat|conversations|files|reactions|users|views)\.([A-Za-z.]+)[\"']")
_SDK_CALL = re.compile(r"\.(chat|conversations|files|reactions|users|views)_([A-Za-z_]+)\(")


def _methods_called() -> set[str]:
    root = Path(__file__).resolve().parents[2]
    found: set[str] = set()
    for path in [*root.glob("bot/**/*.py"), *root.glob("handlers/**/*.py")]:
        text = path.read_text(encoding="utf-8")
        found |= {f"{a}.{b}" for a, b in _LITERAL.findall(text)}
        for family, rest in _SDK_CALL.findall(text):  # slack_sdk: conversations_history(
            head, *tail = rest.split("_")
            found.add(f"{family}.{head}" + "".join(t.title() for t in tail))
    return found


def test_every_slack_method_paperboy_calls_has_its_scope_in_the_manifest() -> None:
    """The manifest users create the app from grants what each call needs: a missing scope
    is a `missing_scope` error in production (the weekly chart's upload lost files:write
    once when the manifest was regenerated)."""
    called = _methods_called()
    assert {"chat.postMessage", "files.getUploadURLExternal", "conversations.open"} <= called
    unknown = called - set(METHOD_SCOPES)
    assert not unknown, f"Slack methods without a known scope here: {sorted(unknown)}"
    scopes = set(yaml_of(MANIFEST)["oauth_config"]["scopes"]["bot"])
    missing = {m: METHOD_SCOPES[m] for m in called if METHOD_SCOPES[m] not in scopes}
    assert not missing, missing
