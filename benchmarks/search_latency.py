"""Scenario: `/papers <query>` against a large archive, through the platform-neutral handler
(`handlers.commands.dispatch`, as Slack and Discord call it), one query at a time.

The archive is filled through `Archive.upsert`; the services are the ones `paperboy run`
builds (`App.services()`: the lexicon cache, the search, the ledger). The first command
builds the cached lexicon, which is timed apart (it is rebuilt whenever the archive grew).
Each query is timed from the request to the reply; the steps inside (`understand`, the
full-text query, re-ranking) are timed by wrapping the functions the search calls.

Baseline: a linear scan that scores every paper of the archive (rapidfuzz `partial_ratio`
of the query against title + abstract, texts preprocessed once and held in memory), on a
sample of the queries.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process, utils

import bot.search
from benchmarks.digest_cycle import _wrap
from benchmarks.fixtures import ensure_archive
from benchmarks.measure import PeakMemory, db_size, latency_summary, stopwatch
from benchmarks.synth import Corpus
from bot.app import build_app
from bot.models import Paper
from bot.pipeline.lexicon import build as build_lexicon
from bot.search import Search
from bot.settings import Settings
from handlers.commands import dispatch
from handlers.reply import CommandRequest


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def run(
    *,
    papers: int,
    queries: int = 1_000,
    passes: int = 3,
    baseline_queries: int = 20,
    lexicon_papers: int | None = None,
    seed: int = 8,
    workdir: Path | None = None,
    archives: Path | None = None,
) -> dict[str, Any]:
    """Measure `queries` searches against an archive of `papers` papers, `passes` times
    (each pass in a new order). `archives`: a folder where archives are kept for reuse.
    `lexicon_papers`: a smaller run, with the lexicon learned from the archive of that many
    papers instead of this one (learning it from 1M papers takes minutes)."""
    corpus = Corpus(seed)
    tmp = Path(tempfile.mkdtemp(prefix="paperboy-bench-search-", dir=workdir))
    try:
        return _run(
            corpus,
            archives or tmp,
            papers=papers,
            queries=queries,
            passes=passes,
            baseline_queries=baseline_queries,
            lexicon_papers=lexicon_papers,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _request(text: str, n: int) -> CommandRequest:
    # a different user each time: the per-user rate limit is not what is measured
    return CommandRequest(platform="slack", channel_id="C0BENCH001", user_id=f"U{n:08d}", text=text)


def _run(
    corpus: Corpus,
    folder: Path,
    *,
    papers: int,
    queries: int,
    passes: int,
    baseline_queries: int,
    lexicon_papers: int | None,
) -> dict[str, Any]:
    now = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    texts = corpus.queries(queries, archive=papers)
    setup: dict[str, float] = {}
    with stopwatch(setup, "archive"):
        path = ensure_archive(folder, corpus, papers, now=now)
    app = build_app(Settings(database=str(path)), clock=_Clock(now))
    try:
        services = app.services()
        if lexicon_papers is not None:
            smaller = ensure_archive(folder, corpus, lexicon_papers, now=now)
            other = build_app(Settings(database=str(smaller)), seed=False)
            try:
                with stopwatch(setup, "lexicon of the smaller archive"):
                    lexicon = build_lexicon(other.archive.all())
            finally:
                other.close()
            services = replace(
                services, lexicon=lambda: lexicon, search=Search(app.archive, lambda: lexicon)
            )
        counter = iter(range(10**9))

        async def ask(text: str) -> float:
            start = time.perf_counter()
            reply = await dispatch(_request(f"search {text}", next(counter)), services)
            elapsed = time.perf_counter() - start
            assert reply.title, reply
            return elapsed

        async def main() -> dict[str, Any]:
            with stopwatch(setup, "lexicon (first command)"):
                await ask("warm up")
            rng = random.Random(f"{corpus.seed}:order")
            per_pass: list[dict[str, float]] = []
            steps: dict[str, float] = {}
            found = 0
            latencies: list[float] = []
            peak = PeakMemory()
            for p in range(passes):
                order = list(texts)
                rng.shuffle(order)
                lat: list[float] = []
                with ExitStack() as stack:
                    if p == passes - 1:
                        stack.enter_context(peak)
                        _wrap(bot.search, "understand", steps, "understand the query", stack)
                        _wrap(app.archive, "fts", steps, "full-text query (FTS5 bm25)", stack)
                        _wrap(bot.search, "_rank", steps, "re-rank (matcher)", stack)
                        _wrap(bot.search.Search, "_fuzzy", steps, "fuzzy title fallback", stack)
                        _wrap(services.ledger, "posted", steps, "posted here? (ledger)", stack)
                    for text in order:
                        lat.append(await ask(text))
                per_pass.append(latency_summary(lat))
                latencies += lat
            for text in texts[:20]:
                found += bool(services.search.search(text).hits)
            return {
                "passes": per_pass,
                "pooled": latency_summary(latencies),
                "steps_mean": {k: v / len(texts) for k, v in steps.items()},
                "peak_rss": peak.peak,
                "answered_with_papers_of_20": found,
            }

        out = asyncio.run(main())
        size = db_size(path)
        baseline = _baseline(app.archive.all, texts, baseline_queries, corpus.seed)
    finally:
        app.close()
    p95s = sorted(s["p95"] for s in out["passes"])
    return {
        "scenario": "search",
        "papers": papers,
        "lexicon_papers": lexicon_papers,
        "queries": len(texts),
        "p95_median": p95s[len(p95s) // 2],
        "p50_median": sorted(s["p50"] for s in out["passes"])[len(p95s) // 2],
        "p99_median": sorted(s["p99"] for s in out["passes"])[len(p95s) // 2],
        "archive_bytes": size,
        "setup_seconds": setup,
        "baseline": baseline,
        **out,
    }


def _baseline(all_papers: Any, texts: list[str], n: int, seed: int) -> dict[str, Any]:
    """Score every paper of the archive for each of `n` queries (partial_ratio on the
    preprocessed title + abstract, the best 5 kept). Nothing when `n` is 0."""
    if n <= 0:
        return {"sample_queries": 0, **latency_summary([])}
    papers: list[Paper] = all_papers()
    docs = [utils.default_process(f"{p.title} {p.abstract}") for p in papers]
    del papers
    sample = random.Random(f"{seed}:baseline").sample(texts, min(n, len(texts)))
    lat = []
    for text in sample:
        start = time.perf_counter()
        process.extract(utils.default_process(text), docs, scorer=fuzz.partial_ratio, limit=5)
        lat.append(time.perf_counter() - start)
    return {"sample_queries": len(sample), **latency_summary(lat)}
