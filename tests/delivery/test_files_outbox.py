"""Exactly-once for a message with a file, through the real outbox (bot/outbox.py) on
SQLite and the real Slack delivery over HTTP to the fake: a run killed while its file is
being uploaded, or after its post but before the answer, then the next run: one post,
showing the file, and every paper POSTED."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_outbox import CHANNEL, KEYS, MINUTE, PAPERS, T0, Clock, digest

from bot.delivery.slack import SlackDelivery, slack_client
from bot.models import Attachment, Digest, Message, Profile
from bot.outbox import Outbox, Outgoing, State
from bot.store.aio import Async
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.ledger import Ledger
from bot.store.migrations import migrate
from fakes.faults import FaultPlan, hang, reset
from fakes.slack import FakeSlack
from fakes.slack_files import sample_png
from helpers import wait_until

SLACK_CHANNEL = CHANNEL.split(":", 1)[1]
PROFILE = Profile(platform="slack", channel_id=SLACK_CHANNEL)
PNG = sample_png()
CHART = Attachment("trend.png", PNG, alt="MoE: 2 papers this week, up from 0")
PAPERS_SENT = KEYS[:2]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(str(tmp_path / "outbox.db"))
    migrate(eng)
    Archive(eng).upsert(PAPERS, now=T0)
    yield eng
    eng.dispose()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[SLACK_CHANNEL]) as fake:
        yield fake


class WithChart:
    """The Slack delivery of one run (a process), whose messages carry the chart."""

    def __init__(self, fake: FakeSlack) -> None:
        self.delivery = SlackDelivery(slack_client(fake.token, fake.url, timeout=5))

    def render(self, d: Digest) -> list[Message]:
        return [replace(m, files=(CHART,)) for m in self.delivery.render(d)]

    async def send(self, out: Outgoing) -> str:
        return await self.delivery.send(
            PROFILE, out.message, idempotency_key=out.key, maybe_sent=out.maybe_sent
        )


def outbox(engine: Engine) -> Outbox:
    return Outbox(Async(Ledger(engine)), Async(Archive(engine)), clock=Clock(), lease=MINUTE)


async def next_run(engine: Engine, fake: FakeSlack) -> list[Outgoing]:
    """The run after the one that died: plans the papers again and drains them."""
    box, platform = outbox(engine), WithChart(fake)
    held = await box.plan(CHANNEL, PAPERS_SENT, now=T0)
    plan, _ = await box.messages(held, digest(PAPERS_SENT), platform)  # type: ignore[arg-type]
    try:
        out = await box.drain(held, plan, platform.send)
    finally:
        await platform.delivery.aclose()
    assert out.error is None and sorted(out.posted) == sorted(PAPERS_SENT)
    states = await box.state_of(CHANNEL, PAPERS_SENT)
    assert set(states.values()) == {State.POSTED}
    return plan


def the_one_post(fake: FakeSlack) -> None:
    [posted] = fake.messages(SLACK_CHANNEL)
    [image] = [b for b in posted["blocks"] if b["type"] == "image"]
    shown = fake.files.files[image["slack_file"]["id"]]
    assert shown.completed and shown.content == PNG
    assert set(PAPERS_SENT) <= set(posted["metadata"]["event_payload"]["papers"])


async def test_a_run_killed_mid_upload_then_the_next_run_posts_once(
    engine: Engine, slack: FakeSlack
) -> None:
    slack.faults = FaultPlan.script([hang(30.0)], only={"upload"})
    box, platform = outbox(engine), WithChart(slack)
    held = await box.plan(CHANNEL, PAPERS_SENT, now=T0)
    plan, _ = await box.messages(held, digest(PAPERS_SENT), platform)  # type: ignore[arg-type]
    run = asyncio.ensure_future(box.drain(held, plan, platform.send))
    # the bytes are on their way: kill the run
    await wait_until(lambda: slack.requests["upload"] > 0, 10.0, "the upload under way")
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    await platform.delivery.aclose()
    assert slack.messages() == [] and slack.files.completed() == []
    states = await box.state_of(CHANNEL, PAPERS_SENT)
    assert set(states.values()) == {State.ABANDONED}  # maybe posted: looked for first

    again = await next_run(engine, slack)
    assert [o.maybe_sent for o in again] == [True] and again[0].key == plan[0].key
    the_one_post(slack)


async def test_a_run_whose_post_was_answered_too_late_is_not_posted_twice(
    engine: Engine, slack: FakeSlack
) -> None:
    slack.faults = FaultPlan.script([reset(after=True)], only={"chat.postMessage"})
    box, platform = outbox(engine), WithChart(slack)
    held = await box.plan(CHANNEL, PAPERS_SENT, now=T0)
    plan, _ = await box.messages(held, digest(PAPERS_SENT), platform)  # type: ignore[arg-type]
    try:
        out = await box.drain(held, plan, platform.send)
    finally:
        await platform.delivery.aclose()
    assert out.error is not None and out.posted == []
    uploads = slack.requests["files.getUploadURLExternal"]

    await next_run(engine, slack)
    the_one_post(slack)
    assert slack.requests["files.getUploadURLExternal"] == uploads  # found, not re-sent
