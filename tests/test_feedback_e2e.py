"""Feedback end to end: two Slack channels follow the same topic. Both digests ask about
the borderline papers (some evidence for the topic, below the threshold: "Unsure — is this
for you?"); in one channel people answer "more like this" (`/papers more`) and say "not for
us" about one posted paper. The next day's digest — the real digest path, slack_sdk against
the fake Slack — selects the new borderline paper in that channel (its threshold is lower)
and ranks the paper like the disliked one lower; the other channel's digest is the topic's
alone and asks about that paper instead."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app, build_deliveries
from bot.digest import ChannelOutcome
from bot.pipeline.render.common import UNSURE_HEADING
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

# Clear matches say "machine translation" in the title; borderline papers only in passing
# (some evidence for the topic, below the threshold).
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
        "Subword Vocabularies for Low-Resource Languages",
        "We compare byte-pair and "
        "unigram subword vocabularies for languages with little text; the choice matters "
        "most for machine translation.",
    ),
    (
        "Tokenizer Fertility Across Scripts",
        "Subword tokenizers split the words of some "
        "scripts into many pieces; we measure this fertility and its cost for machine "
        "translation.",
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
        "Terminology Constraints for Machine Translation of Patent Claims",
        "A constrained "
        "decoder keeps patent terminology consistent in machine translation of claims.",
    ),
    (
        "Byte-Level Subword Merges for Morphologically Rich Languages",
        "Byte-level subword "
        "merges keep the pieces of long words meaningful, which helps machine translation.",
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


def _asked(outcome: ChannelOutcome) -> list[str]:
    assert outcome.digest is not None
    return [item.paper.title for item in outcome.digest.items if item.unsure]


def _matched(outcome: ChannelOutcome) -> list[str]:
    assert outcome.digest is not None
    return [item.paper.title for item in outcome.digest.items if not item.unsure]


def _messages_with(slack: FakeSlack, channel: str, text: str) -> int:
    return sum(
        text in str(m.get("text", "")) + str(m.get("blocks", "")) for m in slack.messages(channel)
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
        clear = [DAY1_PAPERS[0][0], DAY1_PAPERS[1][0]]
        borderline = [DAY1_PAPERS[2][0], DAY1_PAPERS[3][0]]
        for channel in (TAUGHT, PLAIN):
            assert day1[channel].status == "done"
            # the same digest in both: the clear matches, then the borderline papers asked
            # about (feedback is on: the digest asks even before a channel has votes)
            assert sorted(_matched(day1[channel])) == sorted(clear)
            assert sorted(_asked(day1[channel])) == sorted(borderline)
            assert _messages_with(slack, channel, UNSURE_HEADING) == 1
            for title in clear + borderline:
                assert _messages_with(slack, channel, title) == 1
        # asked papers are recorded like posted ones: a second run that day posts nothing
        before = {c: len(slack.messages(c)) for c in (TAUGHT, PLAIN)}
        clock.now = DAY1 + timedelta(hours=2)
        await _digest(app)
        assert {c: len(slack.messages(c)) for c in (TAUGHT, PLAIN)} == before

        # The team of TAUGHT answers the question (both borderline papers are for them)
        # and says "not for us" about one clear match.
        services = app.services()
        for user, text in [
            ("U1", f"more {borderline[0]}"),
            ("U2", f"more {borderline[1].lower()}"),
            ("U2", f"less {clear[1]}"),
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

    documents, patents, subwords = (DAY2_PAPERS[i][0] for i in range(3))
    # PLAIN: the topic alone selects the clear matches and asks about the borderline paper
    assert sorted(_matched(day2[PLAIN])) == sorted([documents, patents])
    assert _asked(day2[PLAIN]) == [subwords]
    # TAUGHT said "more" to borderline papers: its threshold is lower, so the new borderline
    # paper is selected (by its feedback), not asked about
    taught = _matched(day2[TAUGHT])
    assert sorted(taught) == sorted([documents, patents, subwords])
    assert _asked(day2[TAUGHT]) == []
    items = {i.paper.title: i for i in day2[TAUGHT].digest.items}  # type: ignore[union-attr]
    plain = {i.paper.title: i for i in day2[PLAIN].digest.items}  # type: ignore[union-attr]
    assert items[subwords].topics == ("feedback",)
    assert items[documents].topics == items[patents].topics == (TOPIC,)
    # "not for us" on the legal-contracts paper ranks the patent-claims paper (like it) lower:
    # below what the feedback added
    assert items[patents].score < plain[patents].score
    assert taught.index(patents) > taught.index(subwords)
    # posted on the (fake) platform, in that channel only; PLAIN's question once, TAUGHT none
    assert _messages_with(slack, TAUGHT, subwords) == 1
    assert _messages_with(slack, PLAIN, subwords) == 1
    assert _messages_with(slack, TAUGHT, UNSURE_HEADING) == 1  # day 1's only
    assert _messages_with(slack, PLAIN, UNSURE_HEADING) == 2
    assert elapsed < 30
