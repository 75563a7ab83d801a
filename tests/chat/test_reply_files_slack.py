"""A `/papers` reply with a file (the trend chart of `/papers trends`) through the Slack
front-end, over real HTTP: the file is uploaded privately with the bot's token, then the
answer on the response_url shows it with an image block (ephemeral unless public)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from chat.test_slack_app import CHANNEL, Start, _no_slack_env, slack, start

from bot.models import Attachment
from fakes.faults import FaultPlan, server_error
from fakes.slack import FakeSlack
from fakes.slack_files import sample_png
from handlers.reply import CommandRequest, Reply
from handlers.services import Services

__all__ = ["_no_slack_env", "slack", "start"]  # fixtures used here

PNG = sample_png()
ALT = "MoE: 14 papers this week, up from 6"


def answering(public: bool = False) -> Callable[[CommandRequest, Services], Awaitable[Reply]]:
    async def dispatch(request: CommandRequest, services: Services) -> Reply:
        chart = Attachment("trends.png", PNG, alt=ALT)
        return Reply("Trends in this channel's topics", public=public, files=(chart,))

    return dispatch


async def test_a_reply_with_a_file_shows_it_privately(start: Start, slack: FakeSlack) -> None:
    bot = await start(dispatch=answering())
    reply = await bot.run("trends")
    assert reply["response_type"] == "ephemeral"
    image = reply["blocks"][-1]
    assert image["type"] == "image" and image["alt_text"] == ALT
    [file] = slack.files.completed()
    assert image["slack_file"] == {"id": file.id}
    assert file.content == PNG and file.channels == []  # never shared into the channel
    assert slack.messages(CHANNEL) == []  # nothing posted in the channel


async def test_a_public_reply_with_a_file_is_in_channel(start: Start, slack: FakeSlack) -> None:
    bot = await start(dispatch=answering(public=True))
    reply = await bot.run("trends --share")
    assert reply["response_type"] == "in_channel"
    assert reply["blocks"][-1]["slack_file"]["id"] == slack.files.completed()[0].id


async def test_a_file_that_cannot_be_uploaded_is_said_in_words(
    start: Start, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    slack.faults = FaultPlan.storm(100, server_error(500), only={"files.getUploadURLExternal"})
    bot = await start(dispatch=answering())
    reply = await bot.run("trends")
    assert not any(b["type"] == "image" for b in reply["blocks"])
    assert reply["blocks"][-1]["elements"][0]["text"] == f"trends.png: {ALT}"
    assert "files were not uploaded" in caplog.text and slack.token not in caplog.text
