"""`/papers trends [topic]` through both chat front-ends, with the real handlers over a real
SQLite archive: a signed Slack slash command into bolt (the chart uploaded privately and
shown on the response_url), a Discord interaction into discord.py (the chart attached to
the answer's embed); answered to the caller only, with the trend in words; a channel with
no topics is told how to subscribe; nonsense topics are told what to type."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chat.test_discord_app import (
    MANAGE_CHANNELS,
    VIEW_AND_SEND,
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
from chat.test_slack_app import CHANNEL, Start, _no_slack_env, shown, slack, start

from bot.app import App
from fakes.discord_interactions import EPHEMERAL
from fakes.slack import FakeSlack

__all__ = ["_no_slack_env", "app", "clock", "fake", "slack", "start"]  # fixtures used here

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def images(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in reply.get("blocks") or [] if b["type"] == "image"]


# --- Slack ---------------------------------------------------------------------------------


async def test_slack_trends_of_a_topic_answers_the_caller_with_the_chart(
    start: Start, slack: FakeSlack
) -> None:
    bot = await start()
    reply = await bot.run("trends mixture of experts")
    assert reply["response_type"] == "ephemeral"
    text = shown(reply)
    assert "Papers per day on “mixture of experts”, last 8 weeks" in text
    assert "mixture of experts:" in text and "papers this week" in text  # in words
    [image] = images(reply)
    [file] = slack.files.completed()
    assert image["slack_file"] == {"id": file.id} and file.channels == []  # private
    assert file.content.startswith(PNG_SIGNATURE) and "papers this week" in image["alt_text"]
    assert slack.messages(CHANNEL) == []  # nothing posted in the channel


async def test_slack_trends_of_the_channels_topics_and_without_topics(
    start: Start, slack: FakeSlack
) -> None:
    bot = await start()
    none = await bot.run("trends")
    assert "follows no topics yet" in shown(none) and "/papers subscribe" in shown(none)
    assert images(none) == [] and slack.files.completed() == []
    await bot.run("subscribe speech recognition")
    mine = await bot.run("trends")
    assert "Papers per day on this channel's topics" in shown(mine)
    assert "speech recognition:" in shown(mine)
    assert len(images(mine)) == 1


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("trends !!! ???", "not only punctuation"),
        ("trends " + "moe " * 1250, "characters long"),
    ],
)
async def test_slack_trends_of_nonsense_says_what_to_type(
    start: Start, slack: FakeSlack, typed: str, says: str
) -> None:
    bot = await start()
    reply = await bot.run(typed)
    text = shown(reply)
    assert says in text and "/papers trends" in text
    assert images(reply) == [] and slack.files.completed() == []


# --- Discord -------------------------------------------------------------------------------

pytestmark_discord = pytest.mark.usefixtures("discord_route")


async def run_discord(app: App, fake: FakeDiscordApp, payload: dict[str, Any]) -> None:
    client = await _client(app, fake)
    try:
        await _deliver(client, payload)
    finally:
        await client.close()


@pytestmark_discord
async def test_discord_trends_answers_privately_with_the_chart_in_its_embed(
    app: App, fake: FakeDiscordApp
) -> None:
    payload = _interaction(fake, "trends", _option("topic", "mixture of experts"))
    await run_discord(app, fake, payload)
    message = _answer(fake, payload)
    assert message["flags"] & EPHEMERAL
    [attachment] = message["attachments"]
    name = attachment["filename"]
    assert name.endswith(".png")
    assert any(e.get("image") == {"url": f"attachment://{name}"} for e in message["embeds"])
    [upload] = fake.files.of(message["id"])
    assert upload.content.startswith(PNG_SIGNATURE)
    assert "mixture of experts:" in upload.description
    assert "mixture of experts: 4 papers this week" in message["content"]  # in words


@pytestmark_discord
async def test_discord_trends_without_topics_then_of_the_channels_topics(
    app: App, fake: FakeDiscordApp
) -> None:
    payload = _interaction(fake, "trends")
    await run_discord(app, fake, payload)
    answer = json.dumps(_answer(fake, payload), ensure_ascii=False)
    assert "follows no topics yet" in answer and "/papers subscribe" in answer
    subscribe = _interaction(
        fake,
        "subscribe",
        _option("topic", "speech recognition"),
        permissions=VIEW_AND_SEND | MANAGE_CHANNELS,
    )
    await run_discord(app, fake, subscribe)
    payload = _interaction(fake, "trends")
    await run_discord(app, fake, payload)
    message = _answer(fake, payload)
    assert "speech recognition:" in message["content"]
    assert len(fake.files.of(message["id"])) == 1


@pytestmark_discord
async def test_discord_trends_of_punctuation_says_what_to_type(
    app: App, fake: FakeDiscordApp
) -> None:
    payload = _interaction(fake, "trends", _option("topic", "?!.,;"))
    await run_discord(app, fake, payload)
    message = _answer(fake, payload)
    text = json.dumps(message, ensure_ascii=False)
    assert "not only punctuation" in text and "/papers trends" in text
    assert message["attachments"] == []


# --- /papers weekly --------------------------------------------------------------------------


async def test_slack_weekly_sets_and_clears_the_weekly_digest(start: Start) -> None:
    bot = await start()
    on = shown(await bot.run("weekly Fri 16:00"))
    assert "weekly digest now comes on “0 16 * * fri” (UTC)" in on
    assert "Next weekly digest: Fri 27 Nov 16:00 UTC" in on  # the clock: Mon 23 Nov
    assert "follows no topics yet" in on
    profile = bot.app.profiles.get("slack", CHANNEL)
    assert profile is not None and profile.weekly == "0 16 * * fri"
    again = shown(await bot.run("weekly 0 16 * * fri"))
    assert "already comes" in again
    bad = await bot.run("weekly friday at four")
    assert "can't be used" in shown(bad) and "/papers weekly fri 16:00" in shown(bad)
    assert "five fields" in shown(bad)
    empty = await bot.run("weekly")
    assert "When should the weekly digest come?" in shown(empty)
    off = shown(await bot.run("weekly off"))
    assert "This channel no longer gets a weekly digest." in off
    profile = bot.app.profiles.get("slack", CHANNEL)
    assert profile is not None and profile.weekly is None


@pytest.mark.parametrize("cron", ["0 16 * * mon,fri", "0 16 * * *", "*/1 * * * *"])
async def test_slack_weekly_refuses_a_schedule_firing_more_than_once_a_week(
    start: Start, cron: str
) -> None:
    bot = await start()
    bad = shown(await bot.run(f"weekly {cron}"))
    assert "can't be used" in bad and "more than once a week" in bad
    assert "fri 16:00" in bad and "0 16 * * fri" in bad  # what to type
    profile = bot.app.profiles.get("slack", CHANNEL)
    assert profile is None or profile.weekly is None
