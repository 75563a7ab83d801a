"""A `/papers` answer whose `response_url` cannot be reached: one log line saying so, not
tracebacks. Real HTTP: signed commands into the running front-end; the response_url is a
closed port on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from urllib.parse import urlencode

import pytest
from chat.test_slack_app import CHANNEL, SECRET, USER, Start, _no_slack_env, sign, slack, start

from fakes.slack import FakeSlack
from helpers import wait_until

__all__ = ["_no_slack_env", "slack", "start"]  # fixtures used here


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_response_url_logs_one_line(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start()
    port = closed_port()
    form = {
        "team_id": FakeSlack.TEAM_ID,
        "channel_id": CHANNEL,
        "user_id": USER,
        "command": "/papers",
        "text": "moe",
        "response_url": f"http://127.0.0.1:{port}/commands/secret-hook",
    }
    body = urlencode(form)
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(body, stamp, SECRET),
    }
    with caplog.at_level(logging.DEBUG):
        async with bot.http.post(bot.url, data=body, headers=headers) as resp:
            assert resp.status == 200
        await wait_until(lambda: "not delivered" in caplog.text, 10.0, "the log line")
        await asyncio.sleep(0.3)  # a second attempt or a late traceback would land now
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage()[:200] for r in problems]
    line = problems[0].getMessage()
    assert f"127.0.0.1:{port}" in line and "connection refused" in line, line
    assert "\n" not in line and len(line) < 300
    assert "Traceback" not in caplog.text and "secret-hook" not in caplog.text
