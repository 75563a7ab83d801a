"""A digest run chooses its channels' digests in batches (bot.digest.SELECT_BATCH) with one
Matcher for the whole run: each topic is understood and evaluated once per run, not once
per batch, and every channel's digest is the one it gets when it runs alone."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.fixtures import database, fill_archive  # noqa: E402
from benchmarks.synth import Corpus  # noqa: E402
from bot.digest import SELECT_BATCH, DigestCycle  # noqa: E402
from bot.models import Paper  # noqa: E402
from bot.pipeline.lexicon import Lexicon, build  # noqa: E402
from bot.pipeline.match import Matcher  # noqa: E402
from bot.store.archive import Archive  # noqa: E402
from bot.store.ledger import Ledger  # noqa: E402
from bot.store.runs import DigestRuns  # noqa: E402

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_one_matcher_per_run_and_the_digests_of_channels_alone(tmp_path: Path) -> None:
    corpus = Corpus(5)
    engine = database(tmp_path / "p.db")
    papers = list(corpus.papers(300, first_seen=NOW - timedelta(hours=2)))
    fill_archive(engine, papers, now=NOW - timedelta(hours=2))
    archive = Archive(engine)
    lexicon = build(archive.all())
    built: list[Matcher] = []

    def matchers(ps: list[Paper], lex: Lexicon) -> Matcher:
        built.append(Matcher(ps, lex))
        return built[-1]

    def cycle() -> DigestCycle:
        return DigestCycle(
            archive=archive,
            ledger=Ledger(engine),
            runs=DigestRuns(engine),
            lexicon=lambda: lexicon,
            deliveries={},
            clock=lambda: NOW,
            matchers=matchers,
        )

    profiles = corpus.profiles(2 * SELECT_BATCH + 5)
    together = asyncio.run(cycle().run(profiles, dry_run=True))
    assert len(built) == 1
    assert sum(1 for o in together if o.digest and o.digest.items) > SELECT_BATCH
    alone = [asyncio.run(cycle().run([p], dry_run=True))[0] for p in profiles[::7]]
    assert [o.digest for o in alone] == [o.digest for o in together[::7]]
