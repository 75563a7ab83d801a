"""`paperboy run` closes every HTTP session it opened (issue 14 item 17).

A real `paperboy run` process against the fake Slack and Discord: the Slack front-end over
HTTP, the Discord front-end, a source, the health endpoint, and a digest to each platform
(a bot channel and a webhook on both, caught up at start), so every client the service
creates has been used. After SIGTERM it must exit 0 without asyncio's "Unclosed client
session" / "Unclosed connector" errors (aiohttp sessions, slack_sdk and discord.py
clients left open at shutdown).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import yaml

from fakes.discord import FakeDiscord, FakeDiscordApp
from fakes.slack import FakeSlack
from helpers import exited, free_port, signed_slack_headers, slash_command, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals"),
]

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
SLACK_CH, DISCORD_CH = "C0SHUTDOWN", "1200000000000000099"
SLACK_HOOK_CH, DISCORD_HOOK_CH = "C0SHUTHOOK", "1200000000000000098"
STARTUP = 60.0
SECRET = "shutdown-test-signing-secret"
# `python -m bot ARGS`, and at exit a list of every aiohttp session still open: one not
# closed is otherwise reported only if and when it is garbage-collected ("Unclosed client
# session"), which may happen during shutdown or not at all.
RUN_AND_COUNT_OPEN_SESSIONS = """
import atexit, gc, runpy, sys

def report_open_sessions():
    import aiohttp
    gc.collect()
    for o in gc.get_objects():
        if isinstance(o, aiohttp.ClientSession) and not o.closed:
            print(f"Unclosed client session at exit: {o!r}", file=sys.stderr)

atexit.register(report_open_sessions)
sys.argv = ["paperboy", *sys.argv[1:]]
runpy.run_module("bot", run_name="__main__", alter_sys=True)
"""


async def wait_for(
    predicate: Callable[[], Awaitable[bool]], seconds: float, what: str, proc: object
) -> None:
    """Poll an outside process (every 0.2 s) until `predicate`; fail if it exits first."""
    await wait_until(predicate, seconds, what, give_up=exited(proc, "paperboy run"), interval=0.2)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeDiscord]]:
    async with (
        FakeSlack(channels=[SLACK_CH]) as slack,
        FakeDiscordApp(channels=[DISCORD_CH]) as dc,
    ):
        yield slack, dc


async def test_paperboy_run_closes_every_session_on_sigterm(
    tmp_path: Path, fakes: tuple[FakeSlack, FakeDiscord]
) -> None:
    slack, discord = fakes
    slack_port, health_port = free_port(), free_port()
    # Every minute: a digest time has passed today, so the start catches it up at once.
    channel = {"topics": ["mixture of experts"], "schedule": "* * * * *", "lookback": "3650d"}
    config = {
        "database": str(tmp_path / "p.db"),
        "log_level": "INFO",
        "sources": [{"name": "sample", "kind": "dump", "path": str(SAMPLE)}],
        "channels": [
            {"platform": "slack", "id": SLACK_CH, **channel},
            {"platform": "discord", "id": DISCORD_CH, **channel},
            {
                "platform": "slack-webhook",
                "id": "hook",
                "url": slack.add_webhook(SLACK_HOOK_CH),
                **channel,
            },
            {
                "platform": "discord-webhook",
                "id": "hook",
                "url": discord.add_webhook(DISCORD_HOOK_CH),
                **channel,
            },
        ],
        "slack": {
            "bot_token": "${TEST_SLACK_TOKEN}",
            "signing_secret": SECRET,
            "api_url": slack.url,
            "http_host": "127.0.0.1",
            "http_port": slack_port,
        },
        "discord": {
            "bot_token": "${TEST_DISCORD_TOKEN}",
            "api_url": discord.base,
            "application_id": discord.application_id,
        },
        "health": {"host": "127.0.0.1", "port": health_port},
    }
    path = tmp_path / "paperboy.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "TEST_SLACK_TOKEN": slack.token, "TEST_DISCORD_TOKEN": discord.token}
    env["PYTHONASYNCIODEBUG"] = "0"
    for leak in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        env.pop(leak, None)
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-X",
            "dev",  # asyncio and resource warnings on
            "-c",
            RUN_AND_COUNT_OPEN_SESSIONS,
            "--config",
            str(path),
            "run",
            stdout=log,
            stderr=log,
            env=env,
            cwd=tmp_path,
        )
        try:

            async def posted_everywhere() -> bool:
                return all(
                    (
                        slack.messages(SLACK_CH),
                        slack.messages(SLACK_HOOK_CH),
                        discord.messages(DISCORD_CH),
                        discord.messages(DISCORD_HOOK_CH),
                    )
                )

            await wait_for(posted_everywhere, STARTUP, "the caught-up digests", proc)

            async def slack_up() -> bool:
                try:
                    url = f"http://127.0.0.1:{slack_port}/slack/events"
                    async with (
                        aiohttp.ClientSession() as http,
                        http.post(url, data="x", headers={"X-Slack-Signature": "v0=0"}) as resp,
                    ):
                        return resp.status == 401
                except aiohttp.ClientError:
                    return False

            await wait_for(slack_up, STARTUP, "the Slack endpoint", proc)
            # a /papers command, answered through the Slack client's response_url
            response_url = slack.response_url(SLACK_CH)
            body = slash_command(FakeSlack.TEAM_ID, SLACK_CH, "moe", response_url)
            headers = signed_slack_headers(SECRET, body)
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"http://127.0.0.1:{slack_port}/slack/events", data=body, headers=headers
                ) as resp,
            ):
                assert resp.status == 200

            async def answered() -> bool:
                return bool(slack.responses(response_url))

            await wait_for(answered, STARTUP, "the /papers answer", proc)

            async def logged_stop_point() -> bool:
                text = log_path.read_text(errors="replace")
                return text.count("digest done") + text.count("digest already claimed") >= 4

            await wait_for(logged_stop_point, STARTUP, "the digests to finish", proc)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 60)
    logged = log_path.read_text(errors="replace")
    assert code == 0, logged[-3000:]
    assert "service stopped" in logged
    unclosed = [line for line in logged.splitlines() if "Unclosed" in line or "unclosed" in line]
    assert not unclosed, "\n".join(unclosed[:20])
