"""A `/papers` reply with a file (the trend chart of `/papers trends`) through the Discord
front-end: raw interaction payloads into discord.py, the answer over real HTTP to the
fake Discord as one multipart request whose embed shows ``attachment://<file>``, with
the reply's visibility."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from chat.test_discord_app import (
    FakeDiscordApp,
    _answer,
    _client,
    _deliver,
    _interaction,
    _option,
    app,
    clock,
    fake,
)

from bot.app import App
from bot.models import Attachment
from fakes.discord_interactions import EPHEMERAL
from fakes.slack_files import sample_png
from handlers.reply import CommandRequest, Reply
from handlers.services import Services

pytestmark = pytest.mark.usefixtures("discord_route")
__all__ = ["app", "clock", "fake"]  # fixtures used here

PNG = sample_png()
ALT = "MoE: 14 papers this week, up from 6"


def answering(public: bool = False) -> Callable[[CommandRequest, Services], Awaitable[Reply]]:
    async def dispatch(request: CommandRequest, services: Services) -> Reply:
        chart = Attachment("trends.png", PNG, alt=ALT)
        return Reply("Trends in this channel's topics", public=public, files=(chart,))

    return dispatch


async def run(app: App, fake: FakeDiscordApp, payload: dict[str, Any], public: bool) -> None:
    client = await _client(app, fake, dispatch=answering(public))
    try:
        await _deliver(client, payload)
    finally:
        await client.close()


def check_chart(fake: FakeDiscordApp, message: dict[str, Any]) -> None:
    assert [a["filename"] for a in message["attachments"]] == ["trends.png"]
    assert any(e.get("image") == {"url": "attachment://trends.png"} for e in message["embeds"])
    [upload] = fake.files.of(message["id"])
    assert upload.content == PNG and upload.description == ALT


async def test_an_immediate_answer_carries_the_chart_privately(
    app: App, fake: FakeDiscordApp
) -> None:
    payload = _interaction(fake, "help")  # answered at once, not deferred
    await run(app, fake, payload, public=False)
    message = _answer(fake, payload)
    assert message["flags"] & EPHEMERAL
    check_chart(fake, message)


async def test_a_deferred_answer_gets_the_chart_in_the_edit(app: App, fake: FakeDiscordApp) -> None:
    payload = _interaction(fake, "list")  # deferred privately
    await run(app, fake, payload, public=False)
    kinds = [e["kind"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    assert kinds == ["callback", "edit"]
    message = _answer(fake, payload)
    assert message["flags"] & EPHEMERAL
    check_chart(fake, message)


async def test_a_public_answer_to_a_private_deferral_posts_the_chart_publicly(
    app: App, fake: FakeDiscordApp
) -> None:
    payload = _interaction(fake, "list")
    await run(app, fake, payload, public=True)
    kinds = [e["kind"] for e in fake.interactions.log if e["interaction_id"] == payload["id"]]
    assert kinds == ["callback", "edit", "followup"]
    follow_up = _answer(fake, payload)
    assert not follow_up["flags"] & EPHEMERAL
    check_chart(fake, follow_up)


async def test_a_shared_answer_deferred_publicly_shows_the_chart_to_the_channel(
    app: App, fake: FakeDiscordApp
) -> None:
    payload = _interaction(fake, "search", _option("query", "moe"), _option("share", True))
    await run(app, fake, payload, public=True)
    message = _answer(fake, payload)
    assert not message["flags"] & EPHEMERAL
    check_chart(fake, message)
