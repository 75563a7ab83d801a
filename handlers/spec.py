"""One definition per /papers subcommand: name, typed options, permission, help and handler.

A `CommandSpec` is the only place a subcommand is described. handlers.registry lists them;
from that list come the text parser's subcommand set (handlers.parse), the help
(`help_lines`), the Slack manifest's usage hint (`usage_hint`, handlers.manifest) and the
Discord command group with its typed options and autocomplete (bot.chat.discord_commands). A
platform with typed options (Discord) hands their values to `CommandSpec.command`: nothing
is flattened into text and parsed again. tests/handlers/test_spec.py fails on any drift.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from bot.pipeline.text import visible_text
from handlers.reply import CommandRequest, Reply
from handlers.services import Services

DEFAULT_LIMIT = 5
MORE_LIMIT = 10
MAX_LIMIT = 20
# Whitespace between words, except the C0/C1 controls str.split() also splits on (\x1c-\x1f,
# \x85): those are hidden characters, deleted inside a word, never a word break.
_BREAK = re.compile(r"[^\S\x1c-\x1f\x85]+")


class UsageError(ValueError):
    """The input cannot be read as a command; the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command to run: its name, its argument (whitespace-collapsed, possibly empty) and
    the flags: `--share` (post the answer to the channel), `--more` / `--top N` (results),
    `--me` (the caller's own profile, delivered by DM: handlers.personal) and
    `--include-channel-posts [on|off]` (`channel_posts`; None: not given)."""

    name: str
    arg: str = ""
    share: bool = False
    limit: int = DEFAULT_LIMIT
    me: bool = False
    channel_posts: bool | None = None


Handler = Callable[[Command, CommandRequest, Services], Awaitable[Reply]]
# Reads the argument before the permission is checked: the command to run (its argument
# cleaned) or the Reply that says what to type instead.
Check = Callable[[Command], "Command | Reply"]
Permission = Literal["anyone", "manage"]
Role = Literal["arg", "limit", "share", "me", "channel_posts"]
Value = str | int | bool | None


def words(text: str) -> list[str]:
    """The words of `text` as they read (`visible_text`: `moe\u200b` is `moe`); hidden
    characters never split a word."""
    return [w for t in tokens(text) for w in visible_text(t).split()]


def tokens(text: str) -> list[str]:
    """`text` split where it shows whitespace (hidden characters kept, for flag checks)."""
    return [t for t in _BREAK.split(text) if t]


def read_limit(value: str | int | None) -> int:
    """A `--top` value: ASCII digits 1..MAX_LIMIT (str.isdigit() also accepts "²" or "①",
    which int() refuses). Raises UsageError otherwise."""
    text = None if value is None else str(value)
    if text is None or not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= MAX_LIMIT:
        raise UsageError(f"--top takes a number of results from 1 to {MAX_LIMIT}, e.g. --top 10")
    return int(text)


@dataclass(frozen=True, slots=True)
class Option:
    """A typed option. `role` says where its value goes: "arg" (text; the arg options'
    values, in order, make the command's argument), "limit" (a number of results,
    1..MAX_LIMIT) or "share" (a yes/no: post the answer to the channel). `suggest` names
    the autocomplete: "archive" (topics the archive knows) or "channel" (this channel's)."""

    name: str
    description: str
    role: Role = "arg"
    required: bool = True
    suggest: Literal["archive", "channel"] | None = None


# `--me` as a typed option (Discord), on every command handlers.personal runs.
ME = Option(
    "me",
    "Your own alerts, sent to you by direct message (only you see them)",
    role="me",
    required=False,
)
CHANNEL_POSTS = Option(
    "include_channel_posts",
    "With me: also get by DM what this channel already posted that day",
    role="channel_posts",
    required=False,
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One /papers subcommand.

    `summary` is its one-line description (Discord's), `usage` how it is typed after
    /papers (the Slack usage hint), `help` its line in /papers help (None when another
    command's line covers it). `permission` "manage" lets only those who may change the
    channel's profile run it; `check`, when set, reads the argument first (so a mistyped
    command is explained before a refusal). `defer`: the answer reads the store, so a
    platform with a deadline acknowledges first."""

    name: str
    handler: Handler
    summary: str
    usage: str
    help: str | None
    options: tuple[Option, ...] = ()
    permission: Permission = "anyone"
    check: Check | None = None
    defer: bool = True

    def __post_init__(self) -> None:
        # One rule: a command with `me` also takes `include_channel_posts`, right after it
        # (handlers.personal applies it with every --me command).
        if ME in self.options and CHANNEL_POSTS not in self.options:
            at = self.options.index(ME) + 1
            options = (*self.options[:at], CHANNEL_POSTS, *self.options[at:])
            object.__setattr__(self, "options", options)

    def command(self, values: Mapping[str, Value]) -> Command:
        """The command for typed option values (absent or None: not given). The text of
        the arg options is read as it shows (`words`), never parsed for flags: dashes are
        kept as typed. Raises UsageError for a limit out of range."""
        arg: list[str] = []
        share, limit, me, posts = False, DEFAULT_LIMIT, False, None
        for option in self.options:
            value = values.get(option.name)
            if value is None:
                continue
            if option.role == "arg":
                arg += words(str(value))
            elif option.role == "share":
                share = bool(value)
            elif option.role == "me":
                me = bool(value)
            elif option.role == "channel_posts":
                posts = bool(value)
            else:
                limit = read_limit(value)
        return Command(self.name, " ".join(arg), share, limit, me, posts)

    def text(self, values: Mapping[str, Value]) -> str:
        """The call as /papers text, for logs: "search moe --top 10 --share"."""
        parts = [self.name]
        for option in self.options:
            value = values.get(option.name)
            if value is None or value is False:
                continue
            if option.role == "arg":
                parts.append(" ".join(str(value).split()))
            elif option.role == "share":
                parts.append("--share")
            elif option.role == "me":
                parts.append("--me")
            elif option.role == "channel_posts":
                parts.append(f"--include-channel-posts {'on' if value else 'off'}")
            else:
                parts.append(f"--top {value}")
        return " ".join(p for p in parts if p)


def help_lines(specs: Iterable[CommandSpec]) -> tuple[str, ...]:
    """The /papers help: each command's line, then how to share an answer."""
    lines = [f"/papers {s.help}" for s in specs if s.help is not None]
    return (
        *lines,
        "Add --share to post an answer to the channel instead of only to you. Add --me to "
        "subscribe, unsubscribe, list, exclude, include, more, less, schedule, pause or "
        "resume for your own alerts, sent to you by direct message (only you see them).",
    )


def usage_hint(specs: Iterable[CommandSpec]) -> str:
    """The Slack manifest's usage hint: every command as typed, "[words] | subscribe …"."""
    return " | ".join(s.usage for s in specs)
