"""The composition root: everything Paperboy runs with is built here from the settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from bot.ingest import Ingestor
from bot.models import Paper
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.lexicon import build as build_lexicon
from bot.pipeline.match import Matcher
from bot.settings import Settings
from bot.sources.base import Retriever
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.migrations import migrate
from bot.store.profiles import ProfileStore, SeedReport
from bot.store.source_state import SourceStateStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class App:
    """The services of one Paperboy process. Close it with `close()`."""

    settings: Settings
    engine: Engine
    archive: Archive
    source_state: SourceStateStore
    profiles: ProfileStore
    clock: Clock
    seed_report: SeedReport

    def ingestor(self, retriever: Retriever) -> Ingestor:
        return Ingestor(self.archive, self.source_state, retriever, self.clock)

    def lexicon(self, papers: Sequence[Paper] | None = None) -> Lexicon:
        """The lexicon learned from the whole archive (or from `papers` when given)."""
        return build_lexicon(self.archive.all() if papers is None else papers)

    def matcher(self, papers: Sequence[Paper]) -> Matcher:
        """A matcher over `papers`, understanding topics with the archive's lexicon."""
        return Matcher(papers, self.lexicon())

    def close(self) -> None:
        self.engine.dispose()


def build_app(settings: Settings, *, clock: Clock = utc_now) -> App:
    """Open (and migrate) the database, seed the channel profiles from the configuration
    (see bot.store.profiles for which wins), and wire the services.

    Raises StoreError, or ConfigError for channel settings the database refuses.
    """
    engine = make_engine(settings.database)
    try:
        migrate(engine)
        profiles = ProfileStore(engine)
        report = profiles.seed(settings.channels, now=clock())
    except BaseException:
        engine.dispose()
        raise
    return App(
        settings=settings,
        engine=engine,
        archive=Archive(engine),
        source_state=SourceStateStore(engine),
        profiles=profiles,
        clock=clock,
        seed_report=report,
    )
