"""Crash safety: `paperboy digest` killed with SIGKILL while posting, then run again.

Each test runs `python -m bot --config X digest` as a real process against the fake Slack
and Discord servers of the test process, one Slack and one Discord channel, 40 matching
papers (Discord: 4 messages of 10 embeds; Slack: 3 messages, 16 + 16 + 8 papers). The
service sends its channels at once (`CHANNELS_AT_ONCE`): the two channels post side by
side, each its own messages in order, so a kill point is "while channel X has its K-th
message in flight", and the other channel is held at a point of its own or is anywhere
(then what the test asserts about it is what the ledger and the fake servers show, not an
order). The process is killed at one point of its posting (the points below), then `paperboy digest`
runs again at once, long before the killed run's lease (`digest.lease`, 60 s here) ends:
the restart sees that the owner of the reservations is gone (same host; bot.store.owner)
and takes them over. A run that is alive (stopped, here) keeps its papers until its lease
(3 s in that test) runs out.

The guarantee tested, exactly (see bot/digest.py):

- every matched paper reaches each channel: nothing is lost;
- no paper is posted twice on Discord: the message in flight at the kill is sent again
  with the same nonce, and Discord (the fake: `enforce_nonce`) answers with the message it
  already has;
- no paper is posted twice on Slack either when the killed run's last request was either
  processed (the restart finds that message in the channel history by its metadata) or
  never processed; only when Slack processes it *after* the restart looked does that one
  message appear twice (`test_slack_processing_the_dead_runs_request_late_...`);
- the ledger ends with every paper recorded as posted once and nothing pending.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from reliability.digest_procs import (
    START_TIMEOUT,
    Proc,
    discord_keys,
    duplicates,
    ingest,
    ledger_rows,
    moe_dump,
    poll,
    slack_keys,
    start,
    until,
    write_config,
)
from sqlalchemy import Engine, select

from bot.store import ledger as ledger_module
from bot.store import schema
from bot.store.db import make_engine
from bot.store.ledger import POSTED, Ledger
from bot.store.owner import gone, this_process
from fakes.discord import FakeDiscord
from fakes.faults import Fault, FaultPlan, delay
from fakes.server import FakeServer
from fakes.slack import FakeSlack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        this_process() is None, reason="needs POSIX signals and Linux /proc (process identity)"
    ),
]

N_PAPERS = 40
SLACK_CH, DISCORD_CH = "C0CRASH001", "1200000000000000101"
SLACK_REF, DISCORD_REF = f"slack:{SLACK_CH}", f"discord:{DISCORD_CH}"
LEASE = 60.0  # never reached: a dead owner is recognised at once
SLACK_POST, DISCORD_POST = "chat.postMessage", FakeDiscord.SEND_MESSAGE
HELD_BODY = web.RequestKey("held_body", bytes)
HELD = 120.0  # seconds a fault holds a request: "forever" for these tests


class Hold:
    """Holds request number `at` of one route, its body read, until `release()`; then it is
    served (`process=True`: the platform got it and acts on it late, after its client
    died) or dropped unserved (it never took effect)."""

    def __init__(self, at: int, *, process: bool) -> None:
        self.at = at
        self.process = process
        self.arrived = asyncio.Event()
        self._open = asyncio.Event()
        self._seen = 0

    async def admit(self, request: web.Request) -> bool:
        index, self._seen = self._seen, self._seen + 1
        if index != self.at:
            return True
        request[HELD_BODY] = await request.read()  # (the body can't be read again)
        self.arrived.set()
        await self._open.wait()
        return self.process

    def release(self) -> None:
        self._open.set()


class HoldingSlack(FakeSlack):
    """FakeSlack that can hold one chat.postMessage (`hold`)."""

    hold: Hold | None = None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        hold = self.hold if request.match_info.get("method") == SLACK_POST else None
        if hold is not None and not await hold.admit(request):
            return web.Response(status=204)  # its client is gone
        return await super()._api(request)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        body = request.get(HELD_BODY)
        if body is None:
            return await super()._params(request)
        return {**request.query, **json.loads(body)}  # slack_sdk posts JSON


class HoldingDiscord(FakeDiscord):
    """FakeDiscord that can hold one message create (`hold`) or the bot's login
    (`hold_login`: GET /users/@me, which discord.py sends before its first post)."""

    hold: Hold | None = None
    hold_login: Hold | None = None

    async def _send(self, request: web.Request) -> web.StreamResponse:
        if self.hold is not None and not await self.hold.admit(request):
            return web.Response(status=204)
        return await super()._send(request)

    async def _me(self, request: web.Request) -> web.StreamResponse:
        if self.hold_login is not None and not await self.hold_login.admit(request):
            return web.Response(status=204)
        return await super()._me(request)


@dataclass
class World:
    tmp: Path
    slack: HoldingSlack
    discord: HoldingDiscord
    config: Path
    database: Path
    titles: dict[str, str]

    async def digest(self, name: str) -> Proc:
        return await start(self.config, "digest", log=self.tmp / f"{name}.log")

    def slack_keys(self) -> list[str]:
        return slack_keys(self.slack, SLACK_CH)

    def discord_keys(self) -> list[str]:
        return discord_keys(self.discord, DISCORD_CH, self.titles)

    def posted_everything(self) -> None:
        """Every paper once in each channel's ledger, nothing pending."""
        assert ledger_rows(self.database) == {
            (DISCORD_REF, "posted"): N_PAPERS,
            (SLACK_REF, "posted"): N_PAPERS,
        }


@asynccontextmanager
async def world_at(tmp_path: Path, lease: float) -> AsyncIterator[World]:
    async with (
        HoldingSlack(channels=[SLACK_CH]) as slack,
        HoldingDiscord(channels=[DISCORD_CH]) as discord,
    ):
        database = tmp_path / "paperboy.db"
        config = write_config(
            tmp_path / "paperboy.yaml",
            database=database,
            slack=slack,
            discord=discord,
            slack_channels=[SLACK_CH],
            discord_channels=[DISCORD_CH],
            lease=f"{lease:g}s",
        )
        titles = ingest(config, moe_dump(tmp_path / "moe.txt", N_PAPERS))
        assert len(titles) == N_PAPERS
        world = World(tmp_path, slack, discord, config, database, titles)
        try:
            yield world
        finally:
            for hold in (slack.hold, discord.hold, discord.hold_login):
                if hold is not None:
                    hold.release()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with world_at(tmp_path, LEASE) as w:
        yield w


async def restart(world: World, killed_at: float, name: str = "restart") -> Proc:
    """Run `paperboy digest` again at once after the kill; expect exit 0 well within the
    killed run's lease."""
    proc = await world.digest(name)
    code = await proc.wait()
    assert code == 0, proc.output[-3000:]
    assert time.monotonic() < killed_at + LEASE / 2
    return proc


async def settled() -> None:
    """Let the fake servers finish the requests they had read before the kill (their
    handlers run on this event loop), so that what they hold is what the restart meets."""
    await asyncio.sleep(0.5)


def discord_unconfirmed(world: World) -> int:
    """Discord messages on the fake whose papers the ledger does not record as posted: sent
    by the killed run, their answer never read. The restart sends each again with its
    nonce, so each is one nonce hit (and nothing else is)."""
    with sqlite3.connect(world.database) as conn:
        posted = {
            k
            for (k,) in conn.execute(
                "SELECT paper_key FROM posted WHERE channel = ? AND status = ?",
                (DISCORD_REF, POSTED),
            )
        }
    conn.close()
    by_title = {title: key for key, title in world.titles.items()}
    return sum(
        1
        for m in world.discord.messages(DISCORD_CH)
        if any(by_title[e["title"]] not in posted for e in m.get("embeds", []))
    )


def report(name: str, world: World, started: float, **numbers: object) -> None:
    stats = {
        "slack_msgs": len(world.slack.messages(SLACK_CH)),
        "discord_msgs": len(world.discord.messages(DISCORD_CH)),
        "slack_dup_papers": duplicates(world.slack_keys()),
        "discord_dup_papers": duplicates(world.discord_keys()),
        "nonce_hits": world.discord.nonce_hits,
        "history_lookups": world.slack.requests["conversations.history"],
        **numbers,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\n[crash] {name}: " + ", ".join(f"{k}={v}" for k, v in stats.items()))


# -- the kill points -------------------------------------------------------------------


async def test_killed_before_the_first_post(world: World) -> None:
    """Killed while discord.py logs in, before its first message, and Slack's first message
    is in flight, never processed: papers reserved (the first message already marked as
    being sent), nothing posted anywhere."""
    started = time.monotonic()
    world.discord.hold_login = hold = Hold(0, process=False)
    world.slack.hold = slack_hold = Hold(0, process=False)
    first = await world.digest("first")
    await until(hold.arrived, first, "Discord login")
    await until(slack_hold.arrived, first, "the first Slack message")
    killed_at = await first.kill()
    await settled()
    assert world.discord.messages() == [] and world.slack.messages() == []

    await restart(world, killed_at)
    assert sorted(world.discord_keys()) == sorted(world.titles)  # each exactly once
    assert sorted(world.slack_keys()) == sorted(world.titles)
    assert world.discord.nonce_hits == 0
    world.posted_everything()
    report("before the first post", world, started, kills=1)


@pytest.mark.parametrize("platform", ["discord", "slack"])
async def test_killed_between_messages(world: World, platform: str) -> None:
    """Message 1 of `platform` confirmed; its message 2 sent but never processed by the
    platform (held, then dropped) when the process dies, the other channel anywhere in its
    posting: the restart sends it (after looking, on Slack) and the rest of both."""
    started = time.monotonic()
    hold = Hold(1, process=False)
    if platform == "discord":
        world.discord.hold = hold
    else:
        world.slack.hold = hold
    first = await world.digest("first")
    await until(hold.arrived, first, f"the second {platform} message")
    killed_at = await first.kill()
    await settled()
    before = len(world.discord.messages()), len(world.slack.messages())
    assert before[0 if platform == "discord" else 1] == 1
    assert duplicates(world.discord_keys()) == duplicates(world.slack_keys()) == 0
    in_flight = discord_unconfirmed(world)  # Discord's, when it is the other channel
    assert in_flight == 0 if platform == "discord" else in_flight <= 1

    await restart(world, killed_at)
    assert sorted(world.discord_keys()) == sorted(world.titles)
    assert sorted(world.slack_keys()) == sorted(world.titles)
    assert world.discord.nonce_hits == in_flight
    if platform == "slack":
        assert world.slack.requests["conversations.history"] >= 1  # looked before reposting
    world.posted_everything()
    report(f"{platform}: between messages", world, started, kills=1, before_kill=before)


@pytest.mark.parametrize("platform", ["discord", "slack"])
async def test_killed_while_a_posted_message_awaits_its_answer(world: World, platform: str) -> None:
    """Message 2 was accepted by the platform but its answer had not arrived when the
    process died (the worst case for an idempotent retry): the restart finds it (Discord:
    same nonce returns it; Slack: the history has its key) and posts nothing twice."""
    started = time.monotonic()
    held = FaultPlan.script(
        [None, delay(HELD, after=True)],
        only=[DISCORD_POST if platform == "discord" else SLACK_POST],
    )
    fake: FakeSlack | FakeDiscord = world.discord if platform == "discord" else world.slack
    fake.faults = held
    first = await world.digest("first")
    channel = DISCORD_CH if platform == "discord" else SLACK_CH
    # Stored, so processed: its answer is now held (`delay(after=True)` answers only after)
    await poll(lambda: len(fake.messages(channel)) == 2, first, f"the second {platform} message")
    killed_at = await first.kill()
    fake.faults = FaultPlan.none()
    await settled()
    # Discord's messages the dead run never saw answered: message 2 when it is the
    # platform held; when Slack is, Discord's own message in flight at the kill, if any.
    in_flight = discord_unconfirmed(world)
    assert in_flight == 1 if platform == "discord" else in_flight <= 1

    await restart(world, killed_at)
    assert sorted(world.discord_keys()) == sorted(world.titles)
    assert sorted(world.slack_keys()) == sorted(world.titles)
    assert world.discord.nonce_hits == in_flight  # each repeat answered with its message
    assert len(world.discord.messages(DISCORD_CH)) == 4
    assert len(world.slack.messages(SLACK_CH)) == 3
    world.posted_everything()
    report(f"{platform}: posted, answer lost", world, started, kills=1)


async def test_slack_processing_the_dead_runs_request_late_duplicates_that_message_once(
    world: World,
) -> None:
    """The one case left on Slack, which has no idempotency key: Slack received message 2
    before the kill but acts on it only after the restart looked for it and posted it
    again. That message (16 papers) appears twice; nothing else does."""
    started = time.monotonic()
    world.slack.hold = hold = Hold(1, process=True)
    first = await world.digest("first")
    await until(hold.arrived, first, "the second Slack message")
    killed_at = await first.kill()

    await restart(world, killed_at)
    assert duplicates(world.slack_keys()) == 0
    hold.release()  # Slack acts on the dead run's request only now
    await poll(lambda: len(world.slack.messages(SLACK_CH)) == 4, None, "the late message")

    messages = world.slack.messages(SLACK_CH)
    late = set(slack_keys_of(messages[-1]))
    assert set(world.slack_keys()) == set(world.titles)
    assert duplicates(world.slack_keys()) == len(late) == 16  # one message, once
    assert world.slack.requests["conversations.history"] >= 1
    assert sorted(world.discord_keys()) == sorted(world.titles)
    world.posted_everything()
    report("slack: request processed after the restart", world, started, kills=1)


def slack_keys_of(message: dict[str, object]) -> list[str]:
    metadata = message.get("metadata") or {}
    assert isinstance(metadata, dict)
    return list((metadata.get("event_payload") or {}).get("papers", []))


async def test_a_live_run_keeps_its_papers_until_its_lease_runs_out(tmp_path: Path) -> None:
    """The first run is alive but stuck (SIGSTOP) with message 2 of each channel posted and
    its answer held. A second run leaves their papers alone (exit 0, "left to another run",
    its window not consumed); once the lease has run out a third run takes them over and
    sends message 2 again, which Discord recognises by its nonce and Slack's history
    shows."""
    lease = 8.0  # long enough for a second `paperboy digest` process to start and finish
    started = time.monotonic()
    async with world_at(tmp_path, lease) as world:
        world.discord.faults = FaultPlan.script(
            [None, delay(HELD, after=True)], only=[DISCORD_POST]
        )
        world.slack.faults = FaultPlan.script([None, delay(HELD, after=True)], only=[SLACK_POST])
        first = await world.digest("first")
        # message 2 of each channel is stored (processed), and its answer held
        await poll(
            lambda: (
                len(world.discord.messages(DISCORD_CH)) == 2
                and len(world.slack.messages(SLACK_CH)) == 2
            ),
            first,
            "message 2 of both channels",
        )
        first.process.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        world.discord.faults = world.slack.faults = FaultPlan.none()
        try:
            second = await world.digest("second")
            assert await second.wait() == 0, second.output[-3000:]
            assert time.monotonic() < stopped_at + lease, "the second run came too late"
            assert f"{DISCORD_REF}: nothing new, 30 left to another run" in second.output
            assert f"{SLACK_REF}: nothing new, 24 left to another run" in second.output
            assert len(world.discord.messages(DISCORD_CH)) == 2  # left alone
            assert len(world.slack.messages(SLACK_CH)) == 2
            assert world.slack.requests["conversations.history"] == 0  # not even looked at

            # The stuck run's lease runs on the wall clock (the `lease` simulated): wait
            # until the database says it ended, as the third run will read it.
            await poll(
                lambda: all(lease_ended(world.database, c) for c in (DISCORD_REF, SLACK_REF)),
                None,
                "the lease",
                lease + 10,
            )
            third = await world.digest("third")
            assert await third.wait() == 0, third.output[-3000:]
        finally:
            await first.kill()
    assert sorted(world.discord_keys()) == sorted(world.titles)
    assert sorted(world.slack_keys()) == sorted(world.titles)
    assert world.discord.nonce_hits == 1
    assert world.slack.requests["conversations.history"] >= 1  # found message 2 there
    assert len(world.discord.messages(DISCORD_CH)) == 4
    assert len(world.slack.messages(SLACK_CH)) == 3
    world.posted_everything()
    report("live run keeps its papers until its lease", world, started, kills=1, runs=3)


def lease_ended(database: Path, channel: str) -> bool:
    """Every paper of `channel` still pending has a lease that ended by the wall clock."""
    engine = make_engine(str(database))
    try:
        with engine.connect() as conn:
            ends = conn.execute(
                select(schema.posted.c.lease_until).where(
                    schema.posted.c.channel == channel, schema.posted.c.status != POSTED
                )
            ).scalars()
            now = datetime.now(UTC)
            return all(end is None or end < now for end in ends)
    finally:
        engine.dispose()


@dataclass
class HeldPost:
    """The second post of a run on one platform: processed, its answer held
    (`hold_second_post`)."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    fake: FakeServer | None = None
    route: str = ""
    number: int = 0  # its arrival number on `route`

    def processed(self) -> bool:
        return self.fake is not None and self.fake.processed[self.route] >= self.number


def hold_second_post(fake: FakeServer, route: str, held: HeldPost) -> FaultPlan:
    """Process the second request of `route` but hold its answer; fill in `held` then."""

    def decide(i: int) -> Fault | None:
        if i != 1:
            return None
        if not held.arrived.is_set():
            held.fake, held.route, held.number = fake, route, fake.requests[route]
            held.arrived.set()
        return delay(HELD, after=True)

    return FaultPlan(decide, only=[route])


async def test_killed_at_every_message_every_paper_arrives_once(world: World) -> None:
    """Killed again and again, each time once every channel still posting has the second
    post of the run in flight (accepted, answer held; the channels post side by side),
    until a run completes by itself: still each paper exactly once."""
    started = time.monotonic()
    kills = 0
    for round_ in range(10):
        discord_post, slack_post = HeldPost(), HeldPost()
        world.discord.faults = hold_second_post(world.discord, DISCORD_POST, discord_post)
        world.slack.faults = hold_second_post(world.slack, SLACK_POST, slack_post)
        proc = await world.digest(f"run{round_}")

        def each_channel_held_or_done(d: HeldPost = discord_post, s: HeldPost = slack_post) -> bool:
            return (d.processed() or sorted(world.discord_keys()) == sorted(world.titles)) and (
                s.processed() or sorted(world.slack_keys()) == sorted(world.titles)
            )

        try:
            await poll(
                each_channel_held_or_done, proc, "each channel's second post", 4 * START_TIMEOUT
            )
        except AssertionError:
            assert proc.process.returncode == 0, proc.output[-3000:]  # completed by itself
            break
        if not (discord_post.processed() or slack_post.processed()):
            assert await proc.wait() == 0, proc.output[-3000:]  # nothing held: it completes
            break
        await proc.kill()  # the platforms have processed them; their answers are held
        kills += 1
    else:
        pytest.fail("the digest never completed")
    await settled()
    assert sorted(world.discord_keys()) == sorted(world.titles)
    assert sorted(world.slack_keys()) == sorted(world.titles)
    # Killed with Discord's messages 2, 3, 4 in flight (Slack's message 2 with the first);
    # each was sent again by the next run and found (nonce / history), not posted twice.
    assert kills == 3
    assert world.discord.nonce_hits == 3
    assert world.slack.requests["conversations.history"] >= 1
    assert len(world.discord.messages(DISCORD_CH)) == 4
    assert len(world.slack.messages(SLACK_CH)) == 3
    world.posted_everything()
    report("killed at every message", world, started, kills=kills, runs=kills + 1)


SLACK_MANY = [f"C0CRASH10{i}" for i in range(3)]
DISCORD_MANY = [f"120000000000000020{i}" for i in range(3)]
POSTS_MANY = 3 * 3 + 3 * 4  # every message of the six channels


def unconfirmed_on_discord(database: Path, fake: FakeDiscord, titles: dict[str, str]) -> int:
    """Discord messages on the fake, in any channel, with a paper the ledger does not record
    as posted in that channel: sent by a killed run, their answer never read."""
    with sqlite3.connect(database) as conn:
        posted = set(
            conn.execute("SELECT channel, paper_key FROM posted WHERE status = ?", (POSTED,))
        )
    conn.close()
    by_title = {title: key for key, title in titles.items()}
    return sum(
        1
        for m in fake.messages()
        if any(
            (f"discord:{m['channel_id']}", by_title[e["title"]]) not in posted
            for e in m.get("embeds", [])
        )
    )


@pytest.mark.parametrize("k", [1, 8, 17])
async def test_many_channels_killed_after_the_kth_post_every_paper_arrives_once(
    tmp_path: Path, k: int
) -> None:
    """Three Slack and three Discord channels posting side by side. After the k-th post of
    the run (whichever channel made it) every later post is processed but its answer held,
    and the process is killed once one is: channels anywhere in their posting, several
    with a message in flight. The restart takes every channel over at once and posts the
    rest: each paper exactly once in each channel, the ledger all posted, and exactly the
    Discord messages the dead run never saw answered are sent again (nonce hits)."""
    started = time.monotonic()
    async with (
        FakeSlack(channels=SLACK_MANY) as slack,
        FakeDiscord(channels=DISCORD_MANY) as discord,
    ):
        database = tmp_path / "paperboy.db"
        config = write_config(
            tmp_path / "paperboy.yaml",
            database=database,
            slack=slack,
            discord=discord,
            slack_channels=SLACK_MANY,
            discord_channels=DISCORD_MANY,
            lease=f"{LEASE:g}s",
        )
        titles = ingest(config, moe_dump(tmp_path / "moe.txt", N_PAPERS))
        arrived = 0

        def after_k(_i: int) -> Fault | None:
            nonlocal arrived
            arrived += 1
            return delay(HELD, after=True) if arrived > k else None

        discord.faults = FaultPlan(after_k, only=[DISCORD_POST])
        slack.faults = FaultPlan(after_k, only=[SLACK_POST])

        def processed() -> int:
            return discord.processed[DISCORD_POST] + slack.processed[SLACK_POST]

        first = await start(config, "digest", log=tmp_path / "first.log")
        # (a process's start-up alone takes 10-20 s on a loaded 2-core machine)
        await poll(lambda: processed() > k, first, f"post {k + 1}", 4 * START_TIMEOUT)
        killed_at = await first.kill()
        discord.faults = slack.faults = FaultPlan.none()
        await settled()
        before = len(discord.messages()) + len(slack.messages())
        assert k < before < POSTS_MANY
        in_flight = unconfirmed_on_discord(database, discord, titles)

        second = await start(config, "digest", log=tmp_path / "restart.log")
        assert await second.wait(LEASE) == 0, second.output[-3000:]
        assert time.monotonic() < killed_at + LEASE  # taken over, not waited out
        for channel in SLACK_MANY:
            assert sorted(slack_keys(slack, channel)) == sorted(titles), channel
            assert len(slack.messages(channel)) == 3
        for channel in DISCORD_MANY:
            assert sorted(discord_keys(discord, channel, titles)) == sorted(titles), channel
            assert len(discord.messages(channel)) == 4
        assert discord.nonce_hits == in_flight
        assert ledger_rows(database) == {
            **{(f"slack:{c}", POSTED): N_PAPERS for c in SLACK_MANY},
            **{(f"discord:{c}", POSTED): N_PAPERS for c in DISCORD_MANY},
        }
        print(
            f"\n[crash] six channels, killed after post {k}: before_kill={before}, "
            f"discord_in_flight={in_flight}, nonce_hits={discord.nonce_hits}, "
            f"history_lookups={slack.requests['conversations.history']}, "
            f"seconds={time.monotonic() - started:.1f}"
        )


# -- the ledger's part, in process ------------------------------------------------------

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def engine(database: str) -> Iterator[Engine]:
    """A migrated database: an SQLite file, then PostgreSQL (tests/conftest.py)."""
    from bot.store.db import make_engine
    from bot.store.migrations import migrate

    eng = make_engine(database)
    migrate(eng)
    yield eng
    eng.dispose()


def test_a_message_being_sent_is_taken_over_whole_with_its_key(engine: Engine) -> None:
    ledger = Ledger(engine)
    dead = ledger.take("slack:C1", ["a", "b", "c", "d"], now=T0, lease=MINUTE)
    assert dead.keys == ["a", "b", "c", "d"] and dead.resend == {}
    assert ledger.sending(
        "slack:C1", ["a", "b"], token=dead.token, message_key="K1", now=T0, lease=MINUTE
    )
    # Within the lease nobody else gets anything.
    assert ledger.take("slack:C1", ["a", "c"], now=T0 + MINUTE / 2, lease=MINUTE).keys == []
    # After it: asked for "a" and "c" only, the new run also gets "b" (the rest of
    # message K1, which may be on the platform) and learns K1; "c" was only reserved.
    later = ledger.take("slack:C1", ["a", "c"], now=T0 + 2 * MINUTE, lease=MINUTE)
    assert later.keys == ["a", "c", "b"]
    assert later.resend == {"a": "K1", "b": "K1"}
    # The dead run's token holds nothing any more: it may not send.
    assert not ledger.sending(
        "slack:C1", ["c"], token=dead.token, message_key="K2", now=T0 + 2 * MINUTE, lease=MINUTE
    )
    ledger.confirm("slack:C1", ["a", "b"], ref="ts1", now=T0 + 2 * MINUTE)
    ledger.release("slack:C1", ["c", "d"], token=dead.token)  # not its rows: no effect
    assert ledger.take("slack:C1", ["c"], now=T0 + 2 * MINUTE, lease=MINUTE).keys == []
    assert set(ledger.posted("slack:C1")) == {"a", "b"}


def test_abandoned_message_is_free_at_once_and_remembers_its_key(engine: Engine) -> None:
    ledger = Ledger(engine)
    run = ledger.take("discord:9", ["a", "b"], now=T0, lease=MINUTE)
    assert ledger.sending(
        "discord:9", ["a"], token=run.token, message_key="K", now=T0, lease=MINUTE
    )
    ledger.abandon("discord:9", ["a"], token=run.token, now=T0)
    ledger.release("discord:9", ["b"], token=run.token)
    nxt = ledger.take("discord:9", ["a", "b"], now=T0, lease=MINUTE)
    assert nxt.keys == ["a", "b"] and nxt.resend == {"a": "K"}


def test_sending_renews_the_lease_of_everything_the_run_holds(engine: Engine) -> None:
    ledger = Ledger(engine)
    run = ledger.take("slack:C1", ["a", "b"], now=T0, lease=MINUTE)
    # A slow digest: before its second message the lease is renewed for all it holds.
    assert ledger.sending(
        "slack:C1", ["a"], token=run.token, message_key="K", now=T0 + 50 * MINUTE / 60, lease=MINUTE
    )
    assert ledger.take("slack:C1", ["b"], now=T0 + 90 * MINUTE / 60, lease=MINUTE).keys == []


def test_a_dead_owner_is_recognised_and_its_papers_taken_at_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = this_process()
    assert me is not None and not gone(me)
    host, boot, ns, _pid, _start = me.split("/")
    # A process of this host that has ended (its pid is free, or reused: other start).
    dead = "/".join([host, boot, ns, "999999999", "1"])
    assert gone(dead)
    assert not gone("/".join(["another-host", boot, ns, "999999999", "1"]))  # can't tell
    assert not gone("/".join([host, boot, "1", "999999999", "1"]))  # another container
    assert not gone("nonsense")

    ledger = Ledger(engine)
    monkeypatch.setattr(ledger_module, "this_process", lambda: dead)
    died = ledger.take("slack:C1", ["a", "b"], now=T0, lease=MINUTE)
    assert ledger.sending(
        "slack:C1", ["a"], token=died.token, message_key="K", now=T0, lease=MINUTE
    )
    monkeypatch.setattr(ledger_module, "this_process", lambda: me)
    # Long before the lease ends, the run of the dead process is over.
    nxt = ledger.take("slack:C1", ["a", "b"], now=T0 + MINUTE / 10, lease=MINUTE)
    assert nxt.keys == ["a", "b"] and nxt.resend == {"a": "K"}
    # A live owner (this process) keeps its papers until its lease ends.
    assert ledger.take("slack:C1", ["a"], now=T0 + MINUTE / 5, lease=MINUTE).keys == []
