"""Scenario: one digest cycle — the day's papers × every channel: match, dedupe against the
posted ledger, rank, cap, summarize, render (no network).

The cycle is `bot.digest.DigestCycle.run` as the service runs it (a dry run: nothing is
posted or recorded), then each digest rendered as Slack Block Kit, as delivery would (one
at a time: the messages are counted, not kept). Its steps are timed by wrapping the
functions the cycle calls. The lexicon is the cached one (built once from the archive, as
`LexiconCache` keeps it); building it is timed apart.

Baseline: rapidfuzz `partial_ratio` of every topic (and exclusion) of every channel against
every paper's title + abstract, a match at 90 — the obvious way to do it — measured on a
sample of channels and extrapolated linearly.
"""

from __future__ import annotations

import asyncio
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process, utils

import bot.digest
import bot.pipeline.match
from benchmarks.fixtures import database, fill_archive, fill_ledger, generate
from benchmarks.measure import PeakMemory, Timing, stopwatch
from benchmarks.synth import Corpus
from bot.digest import DigestCycle
from bot.models import Digest, Profile
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.lexicon import build as build_lexicon
from bot.pipeline.render.slack import render_slack
from bot.store.archive import Archive
from bot.store.ledger import Ledger
from bot.store.runs import DigestRuns

BASELINE_THRESHOLD = 90.0
PREVIOUSLY_POSTED = 0.1  # share of channels for which today's best papers are posted already


def _wrap(target: Any, name: str, into: dict[str, float], label: str, stack: ExitStack) -> None:
    """Time every call of `target.name` into `into[label]` until `stack` closes."""
    original = getattr(target, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into[label] = into.get(label, 0.0) + time.perf_counter() - start

    setattr(target, name, timed)
    stack.callback(setattr, target, name, original)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _ledger_rows(
    corpus: Corpus,
    profiles: list[Profile],
    total: int,
    history: int,
    new_papers: int,
    matcher_factory: Callable[[], bot.pipeline.match.Matcher],
) -> list[tuple[str, str]]:
    """`total` posted rows spread over the channels: mostly older papers, and for a tenth
    of the channels their best papers of today (a digest that already ran today), so that
    deduplication has something to drop."""
    rng = random.Random(f"{corpus.seed}:ledger")
    rows: list[tuple[str, str]] = []
    matcher = matcher_factory()
    today = rng.sample(range(len(profiles)), int(len(profiles) * PREVIOUSLY_POSTED))
    seen: set[tuple[str, str]] = set()
    for c in today:
        for m in matcher.match(profiles[c])[:5]:
            seen.add((profiles[c].ref, m.paper.key))
    rows += sorted(seen)
    per_channel = max(1, (total - len(rows)) // len(profiles))
    for p in profiles:
        for _ in range(per_channel):
            if len(rows) >= total:
                break
            key = corpus.arxiv_id(new_papers + rng.randrange(max(history, 1)))
            if (p.ref, key) not in seen:
                seen.add((p.ref, key))
                rows.append((p.ref, key))
    return rows


def run(
    *,
    channels: int,
    papers: int = 1_000,
    ledger_rows: int = 1_000_000,
    history: int = 25_000,
    runs: int = 3,
    baseline_channels: int = 50,
    min_rank: int = 0,
    seed: int = 8,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Measure one digest cycle over `papers` new papers and `channels` channels (whose
    topics are never among the `min_rank` most popular)."""
    corpus = Corpus(seed)
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-digest-", dir=workdir))
    try:
        return _run(
            corpus,
            tmp,
            channels=channels,
            papers=papers,
            ledger_rows=ledger_rows,
            history=history,
            runs=runs,
            baseline_channels=baseline_channels,
            min_rank=min_rank,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(
    corpus: Corpus,
    tmp: Path,
    *,
    channels: int,
    papers: int,
    ledger_rows: int,
    history: int,
    runs: int,
    baseline_channels: int,
    min_rank: int,
) -> dict[str, Any]:
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    setup: dict[str, float] = {}
    engine = database(tmp / "paperboy.db")
    with stopwatch(setup, "archive"):
        # the archive: `history` older papers and today's `papers`, fetched two hours ago
        old = list(generate(corpus, history, start=papers))
        fill_archive(engine, old, now=now - timedelta(days=3))
        new = list(corpus.papers(papers, start=0, first_seen=now - timedelta(hours=2)))
        fill_archive(engine, new, now=now - timedelta(hours=2))
    archive = Archive(engine)
    with stopwatch(setup, "lexicon"):
        lexicon = build_lexicon(archive.all())
    lexicon_seconds = setup["lexicon"]
    profiles = corpus.profiles(channels, min_rank=min_rank)
    stored_new = archive.since(now - timedelta(hours=3), now)
    with stopwatch(setup, "ledger"):
        rows = _ledger_rows(
            corpus,
            profiles,
            ledger_rows,
            history,
            papers,
            lambda: bot.pipeline.match.Matcher(stored_new, _fresh(lexicon)),
        )
        fill_ledger(engine, rows, posted_at=now - timedelta(days=1))
    del old, rows

    ledger, runs_store = Ledger(engine), DigestRuns(engine)
    timing = Timing()
    steps: list[dict[str, float]] = []
    outcome_stats: dict[str, Any] = {}
    peak = PeakMemory()
    for r in range(runs):
        lex = _fresh(lexicon)  # a new cycle: nothing remembered from the previous one
        parts: dict[str, float] = {}
        cycle = DigestCycle(
            archive=archive,
            ledger=ledger,
            runs=runs_store,
            lexicon=lambda lex=lex: lex,  # type: ignore[misc]
            deliveries={},
            clock=_Clock(now),
            matchers=_timed_matchers(parts),
        )
        with ExitStack() as stack:
            if hasattr(bot.digest, "prefill"):  # (not in the code before: issue 18)
                _wrap(bot.digest, "prefill", parts, "typo repairs", stack)
            # topics evaluated as channels ask for them (all of them in the code before
            # issue 18), or all at first (`Matcher.evaluate`, in two processes)
            _wrap(bot.pipeline.match.Matcher, "topic_evidence", parts, "topics (asked)", stack)
            if hasattr(bot.pipeline.match.Matcher, "evaluate"):
                _wrap(bot.pipeline.match.Matcher, "evaluate", parts, "topics (first)", stack)
            _wrap(bot.pipeline.match.Matcher, "best", parts, "match (all)", stack)
            _wrap(ledger, "posted_in", parts, "dedupe (ledger)", stack)
            _wrap(bot.digest, "plan_digest", parts, "rank, cap, summarize", stack)
            _wrap(archive, "since", parts, "load papers", stack)
            _wrap(runs_store, "last_complete_of", parts, "windows (runs)", stack)
            with peak if r == runs - 1 else ExitStack():
                start = time.perf_counter()
                outcomes = asyncio.run(cycle.run(profiles, dry_run=True))
                with stopwatch(parts, "render"):
                    # as delivery renders them: one digest at a time, none kept afterwards
                    messages = [len(render_slack(o.digest)) for o in outcomes if _posts(o.digest)]
                timing.runs.append(time.perf_counter() - start)
        asked = parts.pop("topics (asked)", 0.0)
        parts["topics"] = parts.pop("topics (first)", 0.0) + asked
        parts["match (per channel)"] = parts.pop("match (all)", 0.0) - asked
        steps.append(parts)
        if r == runs - 1:
            outcome_stats = _outcome_stats(outcomes, messages, profiles)
    baseline = _baseline(corpus, stored_new, profiles, baseline_channels)
    step_medians = {k: statistics.median(s.get(k, 0.0) for s in steps) for k in steps[0]}
    matching = sum(
        step_medians.get(k, 0.0) for k in ("index papers", "topics", "match (per channel)")
    )
    return {
        "scenario": "digest",
        "channels": channels,
        "min_rank": min_rank,
        "papers": papers,
        "ledger_rows": ledger_rows,
        "history": history,
        "wall": timing.as_dict(),
        "peak_rss": peak.peak,
        # the largest child process's over the whole benchmark (the lexicon's workers at
        # setup; the forked topic evaluation with bot.digest.SPLIT), pages shared with
        # this process included: the two peaks do not add up
        "peak_rss_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
        "peak_method": peak.method,
        "steps": step_medians,
        "matching_seconds": matching,
        "lexicon_build_seconds": lexicon_seconds,
        "lexicon_papers": history + papers,
        "setup_seconds": setup,
        "baseline": baseline,
        **outcome_stats,
    }


def _timed_matchers(
    into: dict[str, float],
) -> Callable[[list[Any], Lexicon], bot.pipeline.match.Matcher]:
    """A Matcher factory (`DigestCycle(matchers=...)`) timing each build (indexing the
    papers) into `into["index papers"]`."""

    def build(papers: list[Any], lexicon: Lexicon) -> bot.pipeline.match.Matcher:
        start = time.perf_counter()
        try:
            return bot.pipeline.match.Matcher(papers, lexicon)
        finally:
            into["index papers"] = into.get("index papers", 0.0) + time.perf_counter() - start

    return build


def _fresh(lexicon: Lexicon) -> Lexicon:
    """The same lexicon without what earlier cycles remembered with it (typo repairs,
    analysed papers), as a new lexicon would be."""
    return Lexicon(lexicon.n_docs, lexicon.df, lexicon.vocab, lexicon.acronyms, lexicon.spelled)


def _posts(digest: Digest | None) -> bool:
    return digest is not None and bool(digest.items)


def _outcome_stats(
    outcomes: list[Any], messages: list[int], profiles: list[Profile]
) -> dict[str, Any]:
    items = [len(o.digest.items) if o.digest else 0 for o in outcomes]
    more = [o.digest.more if o.digest else 0 for o in outcomes]
    matched = sorted(i + m for i, m in zip(items, more, strict=True))
    distinct = {t for p in profiles for t in (*p.topics, *p.exclude)}
    return {
        "digests": sum(1 for i in items if i),
        "papers_posted": sum(items),
        "messages": sum(messages),
        "matches_per_channel": {
            "median": statistics.median(matched) if matched else 0,
            "p90": matched[int(0.9 * (len(matched) - 1))] if matched else 0,
            "max": matched[-1] if matched else 0,
        },
        "distinct_topics": len(distinct),
        "failed": sum(1 for o in outcomes if o.status not in ("dry-run",)),
    }


def _above(query: str, texts: list[str]) -> list[tuple[str, float, int]]:
    return process.extract(
        utils.default_process(query),
        texts,
        scorer=fuzz.partial_ratio,
        score_cutoff=BASELINE_THRESHOLD,
        limit=None,
    )


def _baseline(
    corpus: Corpus, papers: list[Any], profiles: list[Profile], sample: int
) -> dict[str, Any]:
    """partial_ratio of every topic of every channel against every title + abstract (texts
    preprocessed once), on `sample` channels, extrapolated to all of them."""
    rng = random.Random(f"{corpus.seed}:baseline")
    chosen = rng.sample(profiles, min(sample, len(profiles)))
    texts = [utils.default_process(f"{p.title} {p.abstract}") for p in papers]
    start = time.perf_counter()
    selected = []
    for profile in chosen:
        found: set[int] = set()
        for topic in profile.topics:
            found.update(i for _, _, i in _above(topic, texts))
        for term in profile.exclude:
            found.difference_update(i for _, _, i in _above(term, texts))
        selected.append(len(found))
    elapsed = time.perf_counter() - start
    per_channel = elapsed / len(chosen)
    return {
        "sample_channels": len(chosen),
        "sample_seconds": elapsed,
        "extrapolated_seconds": per_channel * len(profiles),
        "matches_per_channel_median": statistics.median(selected) if selected else 0,
    }
