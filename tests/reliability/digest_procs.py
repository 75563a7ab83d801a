"""Running `paperboy` as real processes against the fake Slack and Discord servers, for the
crash and concurrency tests: a config, a dump of matching papers, start / wait / kill, and
what the fakes and the database recorded."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.app import build_app
from bot.settings import load_settings
from bot.sources.detect import parse_any
from fakes.discord import FakeDiscord
from fakes.slack import FakeSlack
from helpers import wait_until

TOPIC = "mixture of experts"
START_TIMEOUT = 20.0  # a `paperboy` process that needs longer than this to act is stuck


def moe_dump(path: Path, n: int) -> Path:
    """A layout-b HF page dump of `n` distinct Mixture-of-Experts papers (all match TOPIC)."""
    records = [
        f"Routing Study {i}: Sparse Mixture-of-Experts Layers at Scale {i}\n\n"
        f"We propose routing variant {i} for Mixture-of-Experts (MoE) models. Experts are "
        f"selected per token by a learned gate, and variant {i} balances expert load."
        for i in range(n)
    ]
    path.write_text("new\n\nMar 12\n\n" + "\n\n".join(records) + "\n")
    return path


def write_config(
    path: Path,
    *,
    database: Path,
    slack: FakeSlack,
    discord: FakeDiscord,
    slack_channels: Iterable[str] = (),
    discord_channels: Iterable[str] = (),
    lease: str = "15m",
) -> Path:
    channel = {"topics": [TOPIC], "max_posts": 0, "lookback": "2d"}
    config = {
        "database": str(database),
        "log_level": "INFO",
        "channels": [
            *({"platform": "discord", "id": c, **channel} for c in discord_channels),
            *({"platform": "slack", "id": c, **channel} for c in slack_channels),
        ],
        "slack": {"bot_token": slack.token, "api_url": slack.url},
        "discord": {"bot_token": discord.token, "api_url": discord.base},
        "digest": {"lease": lease},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def ingest(config: Path, dump: Path) -> dict[str, str]:
    """Archive the dump's papers (now) in the config's database; paper key -> title."""
    app = build_app(load_settings(str(config), env={}))
    try:
        result = parse_any(dump.read_bytes(), source=dump.name)
        app.archive.upsert(result.papers, now=app.clock())
        return {p.key: p.title for p in app.archive.all()}
    finally:
        app.close()


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PAPERBOY_"))}
    out["PYTHONUNBUFFERED"] = "1"
    return out


@dataclass
class Proc:
    """A running `paperboy` command; its stdout and stderr go to `log`."""

    process: asyncio.subprocess.Process
    log: Path
    started: float

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait(self, seconds: float = 30.0) -> int:
        return await asyncio.wait_for(self.process.wait(), seconds)

    async def kill(self) -> float:
        """SIGKILL; returns the time.monotonic() of the kill."""
        self.process.kill()
        at = time.monotonic()
        code = await self.wait()
        assert code == -9, f"expected death by SIGKILL, got exit {code}:\n{self.output[-2000:]}"
        return at


async def start(config: Path, *args: str, log: Path) -> Proc:
    """`python -m bot --config CONFIG ARGS…` as a subprocess."""
    handle = log.open("wb")
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            *args,
            stdout=handle,
            stderr=handle,
            env=env(),
            cwd=config.parent,
        )
    finally:
        handle.close()
    return Proc(process, log, time.monotonic())


async def until(event: asyncio.Event, proc: Proc, what: str) -> None:
    """Wait for `event`, failing at once if the process exits first."""
    waiter = asyncio.ensure_future(event.wait())
    dead = asyncio.ensure_future(proc.process.wait())
    done, _ = await asyncio.wait(
        {waiter, dead}, timeout=START_TIMEOUT, return_when="FIRST_COMPLETED"
    )
    waiter.cancel()
    dead.cancel()
    if waiter not in done:
        raise AssertionError(f"no {what} (exit {proc.process.returncode}):\n{proc.output[-3000:]}")


async def poll(
    predicate: Any, proc: Proc | None, what: str, seconds: float = START_TIMEOUT
) -> None:
    def gone() -> str | None:
        if proc is None or proc.process.returncode is None:
            return None
        return f"the digest exited ({proc.process.returncode}):\n{proc.output[-3000:]}"

    await wait_until(predicate, seconds, what, give_up=gone, interval=0.02)


def slack_keys(slack: FakeSlack, channel: str) -> list[str]:
    """Paper keys of every accepted Slack message, from the metadata each one carries."""
    keys: list[str] = []
    for m in slack.messages(channel):
        payload = (m.get("metadata") or {}).get("event_payload") or {}
        keys += payload.get("papers", [])
    return keys


def discord_keys(discord: FakeDiscord, channel: str, titles: dict[str, str]) -> list[str]:
    """Paper keys of every created Discord message, from its embed titles."""
    by_title = {title: key for key, title in titles.items()}
    return [by_title[e["title"]] for m in discord.messages(channel) for e in m.get("embeds", [])]


def duplicates(keys: list[str]) -> int:
    """How many posts beyond the first there were, over all papers."""
    return sum(n - 1 for n in Counter(keys).values())


def ledger_rows(database: Path) -> Counter[tuple[str, str]]:
    """(channel, status) -> rows of the posted ledger."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT channel, status, count(*) FROM posted GROUP BY 1, 2")
        out = Counter({(c, s): n for c, s, n in rows})
    conn.close()
    return out
