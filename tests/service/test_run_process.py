"""`paperboy run` as a real subprocess against the fake Slack and Discord servers: it answers
a signed `/papers moe` over HTTP, posts a scheduled digest at its minute, reports health,
and exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from fakes.discord import FakeDiscord
from fakes.slack import FakeSlack
from helpers import exited, free_port, signed_slack_headers, slash_command, wait_until

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
SLACK_CH, DISCORD_CH = "C0RUNPROC1", "1200000000000000077"
SECRET = "run-process-signing-secret"
STARTUP = 30.0
# The digest is scheduled for the next whole minute: up to ~60 s of waiting.
DIGEST_WAIT = 100.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")


async def wait_for(predicate: Any, seconds: float, what: str, proc: Any) -> None:
    await wait_until(predicate, seconds, what, give_up=exited(proc, "paperboy run"), interval=0.2)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeDiscord]]:
    async with FakeSlack(channels=[SLACK_CH]) as slack, FakeDiscord(channels=[DISCORD_CH]) as dc:
        yield slack, dc


async def test_paperboy_run_serves_commands_posts_on_schedule_and_stops_on_sigterm(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord]
) -> None:
    slack, discord = fakes
    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (at - datetime.now(UTC)).total_seconds() < 8:  # leave time to start first
        at += timedelta(minutes=1)
    if at.date() != datetime.now(UTC).date():
        # A schedule at a time of day that already passed today is a digest missed today,
        # which the service rightly posts at start (catch-up): begin after midnight.
        midnight = datetime.combine(at.date(), datetime.min.time(), tzinfo=UTC)
        await asyncio.sleep((midnight - datetime.now(UTC)).total_seconds() + 1)
        at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        if (at - datetime.now(UTC)).total_seconds() < 8:
            at += timedelta(minutes=1)
    schedule = f"{at.minute} {at.hour} * * *"
    slack_port, health_port = free_port(), free_port()
    channel = {"topics": ["mixture of experts"], "schedule": schedule, "lookback": "2d"}
    config = {
        "database": str(tmp_path / "p.db"),
        "log_level": "INFO",
        "sources": [{"name": "sample", "kind": "dump", "path": str(SAMPLE)}],
        "channels": [
            {"platform": "slack", "id": SLACK_CH, **channel},
            {"platform": "discord", "id": DISCORD_CH, **channel},
        ],
        "slack": {
            "bot_token": "${TEST_SLACK_TOKEN}",
            "signing_secret": "${TEST_SLACK_SECRET}",
            "api_url": slack.url,
            "http_host": "127.0.0.1",
            "http_port": slack_port,
        },
        "discord": {"bot_token": "${TEST_DISCORD_TOKEN}", "api_url": discord.base},
        "health": {"host": "127.0.0.1", "port": health_port},
    }
    path = tmp_path / "paperboy.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "TEST_SLACK_TOKEN": slack.token,
        "TEST_SLACK_SECRET": SECRET,
        "TEST_DISCORD_TOKEN": discord.token,
    }
    for leak in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        env.pop(leak, None)
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(path),
            "run",
            stdout=log,
            stderr=log,
            env=env,
            cwd=tmp_path,
        )
        try:
            async with aiohttp.ClientSession() as http:

                async def healthy() -> bool:
                    try:
                        url = f"http://127.0.0.1:{health_port}/healthz"
                        async with http.get(url) as resp:
                            return resp.status == 200
                    except aiohttp.ClientError:
                        return False

                await wait_for(healthy, STARTUP, "the health endpoint", proc)

                async def archived() -> bool:
                    async with http.get(f"http://127.0.0.1:{health_port}/healthz") as resp:
                        return int((await resp.json())["papers"]) > 0

                await wait_for(archived, STARTUP, "the first fetch", proc)

                response_url = slack.response_url(SLACK_CH)
                body = slash_command(FakeSlack.TEAM_ID, SLACK_CH, "moe", response_url)
                headers = signed_slack_headers(SECRET, body)

                async def slack_up() -> bool:
                    try:
                        url = f"http://127.0.0.1:{slack_port}/slack/events"
                        bad = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
                        async with http.post(url, data=body, headers=bad) as resp:
                            return resp.status == 401
                    except aiohttp.ClientError:
                        return False

                await wait_for(slack_up, STARTUP, "the Slack endpoint", proc)
                started = time.monotonic()
                url = f"http://127.0.0.1:{slack_port}/slack/events"
                async with http.post(url, data=body, headers=headers) as resp:
                    assert resp.status == 200
                assert time.monotonic() - started < 3.0

                async def answered() -> bool:
                    return bool(slack.responses(response_url))

                await wait_for(answered, 20, "the /papers moe answer", proc)
                reply = str(slack.responses(response_url)[0])
                assert "Experts" in reply or "MoE" in reply

                async def posted() -> bool:
                    return bool(slack.messages(SLACK_CH)) and bool(discord.messages(DISCORD_CH))

                await wait_for(posted, DIGEST_WAIT, "the scheduled digests", proc)
                assert datetime.now(UTC) >= at
                assert "Experts" in str(slack.messages(SLACK_CH)[0])
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 40)
    logged = log_path.read_text()
    assert code == 0, logged[-3000:]
    assert "service stopped" in logged
    for secret in (slack.token, SECRET, discord.token):
        assert secret not in logged
