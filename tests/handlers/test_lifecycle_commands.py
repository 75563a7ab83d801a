"""`/papers pause` and `/papers resume` through dispatch over a real SQLite store: the
channel leaves the digests' list (ProfileStore.all, which every digest path reads) and comes
back; only those who may manage the channel change it; wrong use is explained."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.settings import ChannelSettings, CommandSettings, Settings
from fakes.clock import Clock
from handlers.commands import dispatch
from handlers.registry import HELP_LINES
from handlers.reply import CommandRequest
from handlers.services import Services

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday
CHANNEL = "C0PAUSE01"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    settings = Settings(
        database=str(tmp_path / "p.db"),
        channels=[ChannelSettings(platform="slack", id=CHANNEL, topics=["moe"])],
        commands=CommandSettings(per_minute=0),
    )
    app = build_app(settings, clock=Clock(NOW))
    yield app
    app.close()


@pytest.fixture
def services(app: App) -> Services:
    return app.services()


def req(text: str, *, can_manage: bool = True) -> CommandRequest:
    return CommandRequest(
        platform="slack",
        channel_id=CHANNEL,
        user_id="U1",
        text=text,
        can_manage=can_manage,
        manage_rule="only the admins listed in slack.admins can change this channel's topics",
    )


def digest_channels(app: App) -> list[str]:
    return [p.ref for p in app.profiles.all()]


async def test_pause_stops_the_digests_and_resume_brings_them_back(app: App) -> None:
    services = app.services()
    assert digest_channels(app) == [f"slack:{CHANNEL}"]
    reply = await dispatch(req("pause"), services)
    assert not reply.error and reply.title == "This channel's digests are paused."
    assert "nothing is lost" in " ".join(reply.lines)
    assert digest_channels(app) == []
    entry = app.profiles.entry("slack", CHANNEL)
    assert entry is not None and entry.state == "paused"
    again = await dispatch(req("pause"), services)
    assert again.title == "This channel is already paused."

    back = await dispatch(req("resume"), services)
    assert not back.error and back.title == "This channel's digests are back on."
    assert back.lines[0] == "Next digest: Mon 23 Nov 09:00 UTC" or back.lines[0].startswith(
        "Next digest: Tue 24 Nov 09:00 UTC"
    )
    assert digest_channels(app) == [f"slack:{CHANNEL}"]
    twice = await dispatch(req("resume"), services)
    assert twice.title == "This channel is not paused."


async def test_only_those_who_manage_the_channel_pause_it(app: App) -> None:
    reply = await dispatch(req("pause", can_manage=False), app.services())
    assert reply.error and "only the admins listed in slack.admins" in reply.title
    assert digest_channels(app) == [f"slack:{CHANNEL}"]


async def test_a_word_after_pause_is_explained_and_changes_nothing(app: App) -> None:
    reply = await dispatch(req("pause now please"), app.services())
    assert reply.error and reply.title == "/papers pause takes nothing after it."
    assert digest_channels(app) == [f"slack:{CHANNEL}"]


async def test_a_channel_removed_by_hand_cannot_be_paused_but_can_be_resumed(app: App) -> None:
    app.profiles.remove("slack", CHANNEL, now=NOW)
    refused = await dispatch(req("pause"), app.services())
    assert refused.error and "removed; resume it first" in refused.title
    back = await dispatch(req("resume"), app.services())
    assert not back.error and digest_channels(app) == [f"slack:{CHANNEL}"]


def test_help_lists_pause_and_resume() -> None:
    assert any(line.startswith("/papers pause — ") for line in HELP_LINES)
    assert any(line.startswith("/papers resume — ") for line in HELP_LINES)
