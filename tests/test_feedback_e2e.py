"""Feedback end to end: two Slack channels follow the same topic; in one, people say "more
like this" (`/papers more`) about papers the topic missed and "not for us" about one it
posted. The next day's digest — the real digest path, slack_sdk against the fake Slack —
posts what that channel taught it, and the other channel's digest is unchanged."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app, build_deliveries
from bot.digest import ChannelOutcome
from bot.settings import ChannelSettings, CommandSettings, Settings, SlackSettings
from bot.sources.detect import parse_any
from fakes.clock import Clock
from fakes.slack import FakeSlack
from handlers.commands import dispatch
from handlers.reply import CommandRequest

DAY1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
TAUGHT, PLAIN = "C0TAUGHT01", "C0PLAIN001"
TOPIC = "machine translation"
SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample-dump.txt"

DAY1_PAPERS = [
    (
        "Neural Machine Translation with Retrieved Phrase Memories",
        "We improve machine "
        "translation quality by retrieving phrase pairs from a bilingual memory at decoding.",
    ),
    (
        "Terminology Constraints for Machine Translation of Legal Contracts",
        "A constrained "
        "decoder keeps legal terminology consistent in machine translation of contracts.",
    ),
    (
        "Self-Supervised Discrete Speech Units for Unwritten Languages",
        "We learn discrete "
        "speech units from raw audio with self-supervised encoders, for languages without "
        "a writing system, and synthesize spoken output from the units.",
    ),
    (
        "Spoken Dialogue in Unwritten Languages with Discrete Units",
        "Discrete speech units "
        "learned self-supervised from raw audio let a spoken dialogue system serve unwritten "
        "languages end to end.",
    ),
    (
        "Graph Neural Networks for Molecule Property Prediction",
        "Message passing over molecular graphs predicts solubility and toxicity.",
    ),
]
DAY2_PAPERS = [
    (
        "Document-Level Machine Translation with Discourse Caches",
        "Discourse caches carry "
        "context across sentences in machine translation of whole documents.",
    ),
    (
        "Direct Speech-to-Speech Systems for Unwritten Languages via Discrete Units",
        "Discrete "
        "speech units from self-supervised encoders on raw audio connect source speech to "
        "target speech for unwritten languages.",
    ),
    (
        "Protein Folding with Diffusion Priors",
        "A diffusion prior over backbone geometry improves protein structure prediction.",
    ),
    (
        "Curriculum Schedules for Reinforcement Learning in Robotics",
        "Curricula over task difficulty speed up robotic manipulation learning.",
    ),
]


def _dump(tmp_path: Path, name: str, papers: list[tuple[str, str]]) -> Path:
    path = tmp_path / name
    records = [f"{title}\n\n{abstract}" for title, abstract in papers]
    path.write_text("new\n\nNov 23\n\n" + "\n\n".join(records) + "\n")
    return path


def _ingest(app: App, path: Path) -> None:
    app.archive.upsert(parse_any(path.read_bytes(), source=path.name).papers, now=app.clock())


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(channels=[TAUGHT, PLAIN]) as fake:
        yield fake


def _settings(tmp_path: Path, slack: FakeSlack) -> Settings:
    common = {"topics": [TOPIC], "max_posts": 5, "lookback": "1d"}
    return Settings(
        database=str(tmp_path / "p.db"),
        slack=SlackSettings(bot_token=slack.token, api_url=slack.url),
        commands=CommandSettings(per_minute=0),
        channels=[
            ChannelSettings(platform="slack", id=TAUGHT, name="taught", **common),
            ChannelSettings(platform="slack", id=PLAIN, name="plain", **common),
        ],
    )


async def _digest(app: App) -> dict[str, ChannelOutcome]:
    deliveries = build_deliveries(app.settings, stream=io.StringIO())
    try:
        outcomes = await app.digest_cycle(deliveries).run(app.profiles.all())
    finally:
        for d in deliveries.values():
            await d.aclose()
    return {o.profile.channel_id: o for o in outcomes}


def _titles(outcome: ChannelOutcome) -> list[str]:
    assert outcome.digest is not None
    return [item.paper.title for item in outcome.digest.items]


def _posted_titles(slack: FakeSlack, channel: str) -> str:
    return "\n".join(
        str(m.get("text", "")) + str(m.get("blocks", "")) for m in slack.messages(channel)
    )


async def test_more_and_less_change_the_next_digest_of_that_channel_only(
    tmp_path: Path, slack: FakeSlack
) -> None:
    clock = Clock(DAY1)
    app = build_app(_settings(tmp_path, slack), clock=clock)
    try:
        clock.now = DAY1 - timedelta(days=5)  # an archive of older papers, before the window
        _ingest(app, SAMPLE)
        clock.now = DAY1
        _ingest(app, _dump(tmp_path, "day1.txt", DAY1_PAPERS))
        clock.now = DAY1 + timedelta(hours=1)
        day1 = await _digest(app)
        assert day1[TAUGHT].status == "done" and day1[PLAIN].status == "done"
        assert (
            sorted(_titles(day1[TAUGHT]))
            == sorted(_titles(day1[PLAIN]))
            == sorted([DAY1_PAPERS[0][0], DAY1_PAPERS[1][0]])
        )

        # The team of TAUGHT finds the speech papers the topic missed, and dislikes one post.
        services = app.services()
        for user, text in [
            ("U1", f"more {DAY1_PAPERS[2][0]}"),
            ("U2", f"more {DAY1_PAPERS[3][0].lower()}"),
            ("U2", f"less {DAY1_PAPERS[1][0]}"),
        ]:
            request = CommandRequest("slack", TAUGHT, user, text, channel_name="taught")
            reply = await dispatch(request, services)
            assert not reply.error, reply.title
        assert len(app.feedback.votes(f"slack:{TAUGHT}")) == 3

        clock.now = DAY1 + timedelta(days=1)
        _ingest(app, _dump(tmp_path, "day2.txt", DAY2_PAPERS))
        clock.now = DAY1 + timedelta(days=1, hours=1)
        started = time.perf_counter()
        day2 = await _digest(app)
        elapsed = time.perf_counter() - started
    finally:
        app.close()

    taught, plain = _titles(day2[TAUGHT]), _titles(day2[PLAIN])
    assert plain == [DAY2_PAPERS[0][0]]  # the topic alone
    assert DAY2_PAPERS[1][0] in taught  # what the channel taught it, beside the topic
    assert DAY2_PAPERS[0][0] in taught
    assert not {DAY2_PAPERS[2][0], DAY2_PAPERS[3][0]} & set(taught)
    item = next(i for i in day2[TAUGHT].digest.items if i.paper.title == DAY2_PAPERS[1][0])  # type: ignore[union-attr]
    assert item.topics == ("feedback",)
    # posted on the (fake) platform, in that channel only
    assert "Direct Speech-to-Speech Systems" in _posted_titles(slack, TAUGHT)
    assert "Direct Speech-to-Speech Systems" not in _posted_titles(slack, PLAIN)
    assert elapsed < 30
