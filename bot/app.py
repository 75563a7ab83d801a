"""The composition root: everything Paperboy runs with is built here from the settings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TextIO

from sqlalchemy import Engine

from bot.delivery.base import Delivery
from bot.delivery.console import ConsoleDelivery
from bot.delivery.discord import DEFAULT_API as DEFAULT_DISCORD_API
from bot.delivery.discord import DiscordDelivery, use_api_base
from bot.delivery.pacing import CHANNELS_AT_ONCE
from bot.delivery.slack import SlackDelivery, slack_client
from bot.delivery.webhook import DiscordWebhookDelivery, SlackWebhookDelivery
from bot.digest import DigestCycle, MatcherCache
from bot.embed import LazyEncoder, default_cache, open_encoder, require
from bot.errors import StoreError
from bot.feedback import Teach
from bot.ingest import Ingestor
from bot.models import Paper, Profile
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.lexicon import build as build_lexicon
from bot.pipeline.match import Matcher
from bot.pipeline.semantic import MAX_SOURCE_PAPERS, Encoder, Semantic
from bot.search import Search
from bot.settings import Settings
from bot.sources.base import Retriever
from bot.store.archive import Archive
from bot.store.db import make_engine
from bot.store.feedback import FeedbackStore
from bot.store.ledger import Ledger
from bot.store.lexicon_store import Counted, LexiconStore, Mark
from bot.store.migrations import migrate
from bot.store.profiles import ProfileStore
from bot.store.runs import DigestRuns
from bot.store.seeding import SeedReport
from bot.store.source_state import SourceStateStore
from bot.weekly import WeeklyCycle
from handlers.ratelimit import RateLimiter
from handlers.services import Services

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LEXICON_TTL = timedelta(minutes=10)


SAVE_WAIT = 30.0  # seconds `App.close` waits for a background save of the lexicon


def utc_now() -> datetime:
    return datetime.now(UTC)


class LexiconCache:
    """The archive's lexicon, brought up to date when the archive changed: counted once,
    saved in the database and then kept up to date from what changed instead of relearned
    (bot.store.lexicon_store). The same Lexicon is handed out while the archive stays the
    same, so what is learned with it (typo repairs, analysed papers) is kept with it.
    Callers that find it stale together wait for one catch-up (commands after a fetch)."""

    def __init__(self, store: LexiconStore) -> None:
        self._store = store
        self._cached: tuple[Mark, Lexicon] | None = None
        self._counted: Counted | None = None
        self._building = threading.Lock()
        self._saver = threading.Thread()  # the background save (`_save`), when one runs

    def _fresh(self, mark: Mark) -> Lexicon | None:
        cached = self._cached
        if cached is not None and cached[0].behind(mark) == 0:
            return cached[1]
        return None

    def __call__(self) -> Lexicon:
        mark = self._store.mark()
        lexicon = self._fresh(mark)
        if lexicon is not None:
            return lexicon
        with self._building:
            lexicon = self._fresh(mark)  # brought up to date by the caller we waited for
            if lexicon is not None:
                return lexicon
            counted, self._counted = self._counted, None  # spoiled if the catch-up fails
            counted = self._store.catch_up(counted, save=False)
            self._counted = counted
            lexicon = self._fresh(counted.mark) or counted.tally.lexicon()
            self._cached = (counted.mark, lexicon)
            if self._store.save_due(counted) and not self._saver.is_alive():
                self._saver = threading.Thread(target=self._save, name="lexicon-save", daemon=True)
                self._saver.start()
            return lexicon

    def _save(self) -> None:
        """Save the counts (in the background: the caller has its lexicon already)."""
        with self._building:  # no catch-up changes the counts meanwhile
            counted = self._counted
            if counted is None or not self._store.save_due(counted):
                return
            try:
                self._store.save(counted)
            except StoreError as e:  # the next catch-up tries again
                log.warning("%s", e)

    def wait_saved(self, timeout: float | None = None) -> None:
        """Wait for a background save to end (tests, and a process about to exit)."""
        if self._saver.ident is not None:
            self._saver.join(timeout)


class Vocabulary:
    """The papers semantic evidence finds a topic's related terms among (bot.pipeline.
    semantic): the archive's, at most MAX_SOURCE_PAPERS evenly spread, re-read when the
    archive grew or after `ttl` like the lexicon. A digest matches one window's papers;
    what a topic means is learned from the whole archive's vocabulary."""

    def __init__(self, archive: Archive, clock: Clock, ttl: timedelta = LEXICON_TTL) -> None:
        self._archive = archive
        self._clock = clock
        self._ttl = ttl
        self._cached: tuple[int, datetime, list[Paper]] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> list[Paper]:
        count, now = self._archive.count(), self._clock()
        with self._lock:
            cached = self._cached
            if cached is not None and cached[0] == count and now - cached[1] < self._ttl:
                return cached[2]
            papers = self._archive.all()
            if len(papers) > MAX_SOURCE_PAPERS:
                step = len(papers) / MAX_SOURCE_PAPERS
                papers = [papers[int(i * step)] for i in range(MAX_SOURCE_PAPERS)]
            self._cached = (count, now, papers)
            return papers


def semantic_of(
    settings: Settings, archive: Archive, clock: Clock, encoder: Encoder | None = None
) -> Semantic | None:
    """The process's semantic evidence when relevance.semantic names a model, else None.
    The model is opened on first use (`LazyEncoder`: in the worker thread that first
    matches, never when the app is built), its vectors cached in relevance.semantic_cache
    (default: embeddings.sqlite beside a SQLite database). `encoder` replaces the model
    (tests). ConfigError at once when the extra is not installed."""
    model = settings.relevance.semantic
    if model is None:
        return None
    if encoder is None:
        require()
        cache = settings.relevance.semantic_cache or default_cache(settings.database)
        encoder = LazyEncoder(lambda: open_encoder(model, cache))
    return Semantic(encoder, vocabulary=Vocabulary(archive, clock))


@dataclass(slots=True)
class App:
    """The services of one Paperboy process. Close it with `close()`."""

    settings: Settings
    engine: Engine
    archive: Archive
    source_state: SourceStateStore
    profiles: ProfileStore
    ledger: Ledger
    runs: DigestRuns
    clock: Clock
    seed_report: SeedReport
    lexicons: LexiconCache
    matchers: MatcherCache
    feedback: FeedbackStore
    read_only: bool = False  # built with seed=False: the channel profiles are previewed
    # evidence from word meaning (relevance.semantic, the optional extra); one per process
    semantic: Semantic | None = None

    def channel_profiles(self) -> list[Profile]:
        """Every channel's effective profile, ordered by platform then channel id: the stored
        profiles, or in a read-only app (which did not seed) the configuration merged with
        them exactly as seeding would, computed without writing."""
        if self.read_only:
            return list(self.profiles.preview(self.settings.profiles()).profiles)
        return self.profiles.all()

    def ingestor(self, retriever: Retriever) -> Ingestor:
        return Ingestor(self.archive, self.source_state, retriever, self.clock)

    def lexicon(self, papers: Sequence[Paper] | None = None) -> Lexicon:
        """The lexicon learned from the whole archive (kept up to date with its changes,
        see `LexiconCache`), or from `papers` when given."""
        return self.lexicons() if papers is None else build_lexicon(papers)

    def matcher(self, papers: Sequence[Paper]) -> Matcher:
        """A matcher over `papers`, understanding topics with the archive's lexicon (and
        their meaning, with relevance.semantic)."""
        return Matcher(papers, self.lexicon(), semantic=self.semantic)

    def teach(self, search: Search | None = None) -> Teach:
        """Takes the channels' votes and trains their models (bot.feedback); `search`
        finds a paper named by a title that is not exact (one is made when not given)."""
        return Teach(
            feedback=self.feedback,
            archive=self.archive,
            search=search if search is not None else Search(self.archive, self.lexicons),
            clock=self.clock,
        )

    def digest_cycle(self, deliveries: Mapping[str, Delivery]) -> DigestCycle:
        return DigestCycle(
            archive=self.archive,
            ledger=self.ledger,
            runs=self.runs,
            lexicon=self.lexicons,
            deliveries=deliveries,
            clock=self.clock,
            lease=self.settings.digest.lease,
            matchers=self.matchers,
            teach=self.teach(),
            sending_at_once=CHANNELS_AT_ONCE,
            profiles=self.profiles,  # pauses a person whose DMs are refused (issue 19)
        )

    def weekly_cycle(self, deliveries: Mapping[str, Delivery]) -> WeeklyCycle:
        """The weekly digests (issue 19: top papers and the trend chart, bot.weekly)."""
        return WeeklyCycle(
            archive=self.archive,
            ledger=self.ledger,
            runs=self.runs,
            feedback=self.feedback,
            lexicon=self.lexicons,
            deliveries=deliveries,
            clock=self.clock,
            lease=self.settings.digest.lease,
            matchers=self.matchers,
        )

    def services(self) -> Services:
        """What the /papers handlers use (one per process: it caches the lexicon and holds
        the per-user rate limit of `settings.commands`)."""
        lexicon = self.lexicons
        limits = self.settings.commands
        search = Search(self.archive, lexicon)
        teach = self.teach(search)
        return Services(
            archive=self.archive,
            profiles=self.profiles,
            ledger=self.ledger,
            runs=self.runs,
            search=search,
            teach=teach,
            lexicon=lexicon,
            clock=self.clock,
            digests=DigestCycle(
                archive=self.archive,
                ledger=self.ledger,
                runs=self.runs,
                lexicon=lexicon,
                deliveries={},
                clock=self.clock,
                matchers=self.matchers,
                teach=teach,
            ),
            limiter=RateLimiter(limits.per_minute, limits.burst) if limits.per_minute else None,
        )

    def close(self) -> None:
        # a background save of the lexicon ends first (a short command would lose it, and
        # the change log is pruned only by saves); bounded: exiting matters more
        self.lexicons.wait_saved(SAVE_WAIT)
        close = getattr(self.semantic.encoder, "close", None) if self.semantic else None
        if callable(close):
            close()
        self.engine.dispose()


def build_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    seed: bool = True,
    encoder: Encoder | None = None,
) -> App:
    """Open (and migrate) the database, seed the channel profiles from the configuration
    (see bot.store.profiles for which wins), and wire the services.

    `seed=False` is for read-only commands (`digest --dry-run`, `channels`): an existing
    database is left byte-for-byte unchanged. It is neither upgraded (one at an older schema
    version is refused) nor seeded: `App.channel_profiles` previews the merge and
    `seed_report` says what seeding would do. Only a database that does not exist yet is
    created.

    With relevance.semantic, matchers have evidence from word meaning (`semantic_of`;
    `encoder` replaces the configured model, for tests).

    Raises StoreError, or ConfigError for channel settings the database refuses (or
    relevance.semantic without the extra installed).
    """
    if settings.relevance.semantic is not None and encoder is None:
        require()
    engine = make_engine(settings.database, read_only=not seed)
    try:
        migrate(engine, upgrade=seed)
        profiles = ProfileStore(engine)
        if seed:
            report = profiles.seed(settings.profiles(), now=clock())
        else:
            report = profiles.preview(settings.profiles()).report
    except BaseException:
        engine.dispose()
        raise
    archive = Archive(engine)
    semantic = semantic_of(settings, archive, clock, encoder)
    return App(
        settings=settings,
        engine=engine,
        archive=archive,
        source_state=SourceStateStore(engine),
        profiles=profiles,
        ledger=Ledger(engine),
        runs=DigestRuns(engine),
        clock=clock,
        seed_report=report,
        lexicons=LexiconCache(LexiconStore(engine, saving=seed)),
        matchers=MatcherCache(semantic),
        feedback=FeedbackStore(engine),
        read_only=not seed,
        semantic=semantic,
    )


def build_deliveries(settings: Settings, *, stream: TextIO | None = None) -> dict[str, Delivery]:
    """A delivery per platform that has credentials. A platform without them is absent;
    its channels then fail with a message naming the missing setting."""
    out: dict[str, Delivery] = {"console": ConsoleDelivery(stream)}
    if settings.slack.bot_token is not None:
        token = settings.slack.bot_token.get_secret_value()
        out["slack"] = SlackDelivery(slack_client(token, settings.slack.api_url))
    if settings.discord.bot_token is not None:
        if settings.discord.api_url.rstrip("/") != DEFAULT_DISCORD_API:
            use_api_base(settings.discord.api_url)
        out["discord"] = DiscordDelivery(settings.discord.bot_token.get_secret_value())
    for platform, cls in (
        ("slack-webhook", SlackWebhookDelivery),
        ("discord-webhook", DiscordWebhookDelivery),
    ):
        urls = {
            f"{c.platform}:{c.id}": c.url.get_secret_value()
            for c in settings.channels
            if c.platform == platform and c.url is not None
        }
        if urls:
            out[platform] = cls(urls)
    return out
