"""What a command asks and what it answers: platform-neutral values the front-ends translate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from bot.models import Attachment, Paper

Platform = Literal["slack", "discord"]


@dataclass(frozen=True, slots=True)
class TypedCall:
    """A subcommand as a platform with typed options sent it (Discord): its name and the
    options' values by name (absent or None: not given). Read by the subcommand's
    CommandSpec, never flattened into text."""

    name: str
    values: Mapping[str, str | int | bool | None]


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One `/papers …` invocation.

    `text` is everything the user typed after `/papers` (untrusted, any length).
    `can_manage` is the front-end's verdict on whether this user may change the channel's
    profile (Discord: Manage Channels or the configured role; Slack: `slack.admins`), and
    `manage_rule` says what that rule is, for the refusal message. `typed`, when set, is
    the command with its typed options (then `text` is only its /papers equivalent, for
    logs).
    """

    platform: Platform
    channel_id: str
    user_id: str
    text: str
    can_manage: bool = True
    manage_rule: str = ""
    channel_name: str | None = None
    typed: TypedCall | None = None

    @property
    def channel_ref(self) -> str:
        return f"{self.platform}:{self.channel_id}"


@dataclass(frozen=True, slots=True)
class PaperLine:
    """A paper in a reply: its summary, when it was posted in this channel, and a detail
    line (score and reason, or why it was not posted)."""

    paper: Paper
    summary: str
    posted_on: date | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """A command's answer. Every string is plain untrusted-safe text: the renderers escape
    it for their platform. `public` replies are posted to the channel, others only to the
    caller. `error` marks refusals and bad input (shown the same way, worded to say what
    was wrong and what to do)."""

    title: str
    lines: tuple[str, ...] = ()
    papers: tuple[PaperLine, ...] = ()
    footer: str | None = None
    public: bool = False
    error: bool = False
    files: tuple[Attachment, ...] = ()  # shown with the answer (`/papers trends`: its chart)
