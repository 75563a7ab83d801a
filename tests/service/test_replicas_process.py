"""Three `paperboy run` replicas as real subprocesses on one PostgreSQL database, posting to
the fake Slack and Discord: 50 channels, all scheduled for the same coming minute. Every
paper a channel's profile matches is posted there exactly once, every channel's digest runs
once, the source is fetched once, and the Slack HTTP endpoint of every replica answers a
signed `/papers`. Needs a PostgreSQL server (skips, saying why, without)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url

import pg
from bot.models import normalize_title
from bot.pipeline.lexicon import build
from bot.pipeline.match import ASKED, Matcher
from bot.store import schema
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.ledger import POSTED
from bot.store.profiles import ProfileStore
from fakes.discord import FakeDiscord
from fakes.slack import FakeSlack
from helpers import free_port, signed_slack_headers, slash_command, wait_until

SAMPLE = Path(__file__).resolve().parents[2] / "bot" / "data" / "sample-dump.txt"
REPLICAS = 3
SLACK_CHANNELS = [f"C0REPLICA{i:02d}" for i in range(25)]
DISCORD_CHANNELS = [str(1300000000000000000 + i) for i in range(25)]
TOPICS = [
    ["mixture of experts"],
    ["speech"],
    ["machine translation", "medical"],
    ["multi-task learning"],
    ["moe", "code generation"],
]
SECRET = "replica-signing-secret"
STARTUP = 60.0
DIGEST_WAIT = 150.0  # the next whole minute, plus 50 channels' posts

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals"),
]


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, written as users write it: postgresql://…"""
    with pg.temporary_database() as url:
        yield make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeSlack, FakeDiscord]]:
    async with (
        FakeSlack(channels=SLACK_CHANNELS) as slack,
        FakeDiscord(channels=DISCORD_CHANNELS) as discord,
    ):
        yield slack, discord


def _config(
    database: str, at: datetime, slack: FakeSlack, discord: FakeDiscord, replica: int
) -> dict[str, Any]:
    schedule = f"{at.minute} {at.hour} * * *"
    refs = [("slack", c) for c in SLACK_CHANNELS] + [("discord", c) for c in DISCORD_CHANNELS]
    channels = [
        {
            "platform": platform,
            "id": cid,
            "topics": TOPICS[i % len(TOPICS)],
            "schedule": schedule,
            "timezone": "UTC",
            "lookback": "2d",
            "max_posts": 0,
        }
        for i, (platform, cid) in enumerate(refs)
    ]
    return {
        "database": database,
        "log_level": "INFO",
        "sources": [{"name": "sample", "kind": "dump", "path": str(SAMPLE), "interval": "1h"}],
        "channels": channels,
        "slack": {
            "bot_token": "${TEST_SLACK_TOKEN}",
            "signing_secret": "${TEST_SLACK_SECRET}",
            "api_url": slack.url,
            "http_host": "127.0.0.1",
            "http_port": free_port(),
        },
        # One replica runs Discord's gateway (/papers); all of them post over REST.
        "discord": {
            "bot_token": "${TEST_DISCORD_TOKEN}",
            "api_url": discord.base,
            "gateway": replica == 0,
        },
        "health": {"host": "127.0.0.1", "port": free_port()},
    }


class Replica:
    def __init__(self, index: int, config: dict[str, Any], tmp_path: Path) -> None:
        self.index = index
        self.config = config
        self.dir = tmp_path / f"replica{index}"
        self.dir.mkdir()
        self.path = self.dir / "paperboy.yaml"
        self.path.write_text(yaml.safe_dump(config))
        self.log = self.dir / "run.log"
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def health(self) -> str:
        return f"http://127.0.0.1:{self.config['health']['port']}/healthz"

    @property
    def slack_events(self) -> str:
        return f"http://127.0.0.1:{self.config['slack']['http_port']}/slack/events"

    async def start(self, env: dict[str, str]) -> None:
        with self.log.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(self.path),
                "run",
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.dir,
            )

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), 40)

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


async def wait_for(predicate: Any, seconds: float, what: str, replicas: list[Replica]) -> None:
    def give_up() -> str | None:
        for r in replicas:
            if r.proc is not None and r.proc.returncode is not None:
                return f"replica {r.index} exited ({r.proc.returncode})"
        return None

    await wait_until(predicate, seconds, what, give_up=give_up, interval=0.25)


def scheduled_digests(log: str) -> int:
    """How many scheduled digests a replica's log says it finished (posted, found already
    claimed by another replica, or failed): each one logs one line."""
    return sum(
        '"event": "digest"' in line and '"scheduled_for"' in line for line in log.splitlines()
    )


def _slack_items(message: dict[str, Any]) -> list[str]:
    """The papers of a Slack digest message: the `• title` lines of its text fallback."""
    return [line[2:] for line in str(message.get("text", "")).splitlines() if line.startswith("• ")]


def _discord_items(message: dict[str, Any]) -> list[str]:
    """The papers of a Discord digest message: one embed each, titled with the paper."""
    return [str(e["title"]) for e in message.get("embeds") or []]


async def test_three_replicas_post_every_matched_paper_once_and_every_digest_once(
    tmp_path: Path, database: str, fakes: tuple[FakeSlack, FakeDiscord]
) -> None:
    slack, discord = fakes
    started = time.monotonic()
    at = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (at - datetime.now(UTC)).total_seconds() < 25:  # leave time for three starts
        at += timedelta(minutes=1)
    replicas = [
        Replica(i, _config(database, at, slack, discord, i), tmp_path) for i in range(REPLICAS)
    ]
    env = {
        **os.environ,
        "TEST_SLACK_TOKEN": slack.token,
        "TEST_SLACK_SECRET": SECRET,
        "TEST_DISCORD_TOKEN": discord.token,
    }
    for leak in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        env.pop(leak, None)
    engine = make_engine(database)
    codes: list[int] = []
    try:
        # All three start at once: they race to create the schema and seed 50 channels.
        await asyncio.gather(*(r.start(env) for r in replicas))
        async with aiohttp.ClientSession() as http:

            async def all_healthy() -> bool:
                for r in replicas:
                    try:
                        async with http.get(r.health) as resp:
                            if resp.status != 200 or int((await resp.json())["papers"]) == 0:
                                return False
                    except aiohttp.ClientError:
                        return False
                return True

            await wait_for(all_healthy, STARTUP, "three healthy replicas with papers", replicas)
            ready = time.monotonic()

            # Slack HTTP mode: whichever replica the load balancer picks answers /papers.
            for r in replicas:
                response_url = slack.response_url(SLACK_CHANNELS[r.index])
                channel, user = SLACK_CHANNELS[r.index], f"U0USER{r.index}"
                body = slash_command(FakeSlack.TEAM_ID, channel, "moe", response_url, user=user)
                headers = signed_slack_headers(SECRET, body)
                async with http.post(r.slack_events, data=body, headers=headers) as resp:
                    assert resp.status == 200, f"replica {r.index}"

                async def answered(url: str = response_url) -> bool:
                    return bool(slack.responses(url))

                await wait_for(answered, 30, f"replica {r.index}'s /papers answer", replicas)
                assert "Experts" in str(slack.responses(response_url)[0])

            async def all_digests_ran() -> bool:
                with engine.connect() as conn:
                    rows = conn.execute(
                        select(schema.digest_runs.c.status).where(
                            schema.digest_runs.c.scheduled_for == at
                        )
                    ).scalars()
                    statuses = list(rows)
                return len(statuses) == 50 and all(s != "running" for s in statuses)

            await wait_for(all_digests_ran, DIGEST_WAIT, "50 digests", replicas)
            digests_done = time.monotonic()

            # No duplicate can come later: every replica has finished its own turn at each
            # of the 50 digests (its timer fired for every channel).
            async def every_replica_finished() -> bool:
                return all(scheduled_digests(r.logged()) >= 50 for r in replicas)

            await wait_for(every_replica_finished, DIGEST_WAIT, "each replica's 50 turns", replicas)
    finally:
        for r in replicas:
            if r.proc is not None:
                codes.append(await r.stop())
    await asyncio.wait_for(asyncio.gather(slack.settle(), discord.settle()), 30)
    logs = [r.logged() for r in replicas]
    assert codes == [0] * REPLICAS, "\n".join(log[-2000:] for log in logs)

    # Every channel's digest: exactly one run for the scheduled minute, complete.
    with engine.connect() as conn:
        runs = conn.execute(select(schema.digest_runs)).all()
        ledger = conn.execute(select(schema.posted).where(schema.posted.c.status == POSTED)).all()
    assert len(runs) == 50
    assert {r.channel for r in runs} == {f"slack:{c}" for c in SLACK_CHANNELS} | {
        f"discord:{c}" for c in DISCORD_CHANNELS
    }
    assert all(r.scheduled_for == at and r.status == "done" for r in runs), runs

    # Every matched paper, per channel, is in the ledger (none skipped) ...
    archive = Archive(engine)
    papers = archive.all()
    matcher = Matcher(papers, build(papers))
    profiles = {p.ref: p for p in ProfileStore(engine).all()}
    posted: dict[str, set[str]] = {}
    refs: dict[str, set[str]] = {}
    for row in ledger:
        posted.setdefault(row.channel, set()).add(row.paper_key)
        refs.setdefault(row.channel, set()).add(row.message_ref)
    expected = {ref: {m.paper.key for m in matcher.match(p)} for ref, p in profiles.items()}
    assert all(expected.values()), "every channel should have something to post"
    # Besides its matches a digest may ask about a few borderline papers (marked unsure,
    # bot.pipeline.match.asked): at most ASKED a channel, never a matching one.
    assert posted.keys() == expected.keys()
    for ref, keys in posted.items():
        assert expected[ref] <= keys and len(keys - expected[ref]) <= ASKED, ref
    titles = {p.key: p.title for p in papers}

    # ... and on the platform exactly once: each message is one the ledger recorded, and
    # each paper appears in one message of its channel.
    total_items = total_messages = 0
    for platform, channels, fake, items in (
        ("slack", SLACK_CHANNELS, slack, _slack_items),
        ("discord", DISCORD_CHANNELS, discord, _discord_items),
    ):
        for cid in channels:
            ref = f"{platform}:{cid}"
            messages = fake.messages(cid)
            ids = [str(m.get("ts") or m.get("id")) for m in messages]
            assert sorted(ids) == sorted(refs[ref]), f"{ref}: a message the ledger lacks"
            shown = [normalize_title(t) for m in messages for t in items(m)]
            want = sorted(normalize_title(titles[k]) for k in posted[ref])
            assert len(shown) == len(set(shown)), f"{ref}: a paper posted twice"
            assert sorted(shown) == want, ref
            total_items += len(shown)
            total_messages += len(messages)

    # The source was fetched once (by whichever replica claimed it), not three times.
    fetches = [
        sum('"event": "fetch"' in line and "parsed " in line for line in log.splitlines())
        for log in logs
    ]
    assert sum(fetches) == 1, fetches
    posted_by = [
        sum('"event": "digest"' in line and '"status": "done"' in line for line in log.splitlines())
        for log in logs
    ]
    assert sum(posted_by) == 50, posted_by  # each digest posted by one replica
    gateways = ["Discord /papers off on this replica" in log for log in logs]
    assert gateways == [False, True, True]

    print(
        f"\n{REPLICAS} replicas, 50 channels: {total_items} papers in {total_messages} "
        f"messages, 0 duplicates; 50 digests, one run each, posted per replica {posted_by}; "
        f"fetches per replica {fetches}; "
        f"ready {ready - started:.1f} s after start, digests done "
        f"{digests_done - ready:.1f} s later (scheduled for {at:%H:%M} UTC)"
    )
    engine.dispose()
