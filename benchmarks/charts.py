"""Scenario: the weekly trend charts of many channels (issue 19) — count each channel's
topics' papers per day over 8 weeks (`bot.pipeline.trends`), then draw each chart
(`bot.pipeline.render.chart`).

    python -m benchmarks.charts --channels 10000             # a table on stdout
    python -m benchmarks.charts --channels 300 --json r.json # small, and the figures as JSON
    python -m benchmarks.charts --channels 10000 --workers 2 # charts drawn in 2 processes

The archive: 8 weeks and 6 days of synthetic papers (`benchmarks.synth.Corpus`, ~1,000 a
day, `--per-day`), its lexicon (built once, not timed: a service keeps it cached). The
channels draw 1 to 5 topics each from a pool of `--topics` topics by popularity (Zipf, as
typed by people), 80% of them one exclusion, a zone from ZONES; every chart ends on the
same day (a weekly digest at the same local time everywhere).

Measured apart: indexing the papers (a Matcher per `--chunk-days` days of papers, used
and let go, `count_channels`; 0: one Matcher over all of them, `TrendCounter(matcher)`),
counting (each distinct topic, exclusion and zone once per Matcher; this includes
evaluating the topics, the digest's relevance), and drawing (`ChartCache`: equal Trends
are drawn once; `--workers N` draws the distinct charts in N forked processes, and
`--serial-sample` charts are drawn in this one as well, for the per-chart time of one
process). Peak memory: this process's high-water mark during each phase (`PeakMemory`:
VmHWM reset at its start), and the largest child process's (`getrusage(RUSAGE_CHILDREN)`:
a drawing process, or with `--split` a counting one; shared pages counted). The charts are
not kept (a weekly cycle sends each and lets it go): their sizes are.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.fixtures import generate
from benchmarks.measure import PeakMemory, machine
from benchmarks.synth import EPOCH, EXCLUSIONS, Corpus
from bot.models import Profile
from bot.pipeline.lexicon import build as build_lexicon
from bot.pipeline.match import Matcher
from bot.pipeline.render.chart import ChartCache, render_chart
from bot.pipeline.trends import (
    LEAD,
    WEEK,
    WEEKS,
    TrendCounter,
    Trends,
    count_channels,
    trends_for,
)

MiB = 1024 * 1024
ZONES = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
)
EXCLUDING = 0.8  # share of channels with one exclusion


def channels(corpus: Corpus, n: int, *, seed: int = 8) -> list[Profile]:
    """`n` channels following 1 to 5 topics each (by popularity), most with one exclusion,
    in one of ZONES."""
    rng = random.Random(f"{seed}:chart-channels")
    out = []
    for c in range(n):
        k = rng.randint(1, 5)
        chosen: dict[str, str] = {}
        while len(chosen) < k:
            topic = corpus.topic(rng)
            chosen.setdefault(topic.long, topic.typed(rng))
        exclude = (rng.choice(EXCLUSIONS),) if rng.random() < EXCLUDING else ()
        out.append(
            Profile(
                platform="slack",
                channel_id=f"C{c:09d}",
                name=f"papers-{c}",
                topics=tuple(chosen.values()),
                exclude=exclude,
                timezone=ZONES[c % len(ZONES)],
                weekly="0 16 * * fri",
            )
        )
    return out


def _draw(trends: Trends) -> int:
    """Draw one chart (in a pool's process); its size in bytes."""
    return len(render_chart(trends).content)


def _children_peak() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def run(
    *,
    channels_n: int = 300,
    per_day: int = 1000,
    topics: int = 3000,
    workers: int = 0,
    serial_sample: int = 100,
    chunk_days: int = 1,
    split: bool = False,
    seed: int = 8,
) -> dict[str, Any]:
    corpus = Corpus(seed, topics=topics)
    days = WEEKS * WEEK + LEAD
    # Corpus paper i is listed on EPOCH - (i // 1000 + 1) days: the first `per_day` of each
    # day's thousand.
    per_day = min(per_day, 1000)
    t0 = time.perf_counter()
    papers = [
        p for day in range(days) for p in (generate(corpus, per_day, start=day * 1000, workers=0))
    ]
    generated = time.perf_counter() - t0
    end = (EPOCH - timedelta(days=1)).date()
    t0 = time.perf_counter()
    lexicon = build_lexicon(papers)
    lexicon_s = time.perf_counter() - t0
    profiles = channels(corpus, channels_n, seed=seed)

    with PeakMemory() as count_peak:
        index_s = 0.0
        t0 = time.perf_counter()
        if chunk_days > 0:
            size = per_day * chunk_days

            def matchers() -> Iterator[Matcher]:
                nonlocal index_s
                for start in range(0, len(papers), size):
                    began = time.perf_counter()
                    matcher = Matcher(papers[start : start + size], lexicon)
                    index_s += time.perf_counter() - began
                    yield matcher

            counter = count_channels(matchers(), profiles, end, split=split)
        else:
            counter = TrendCounter(Matcher(papers, lexicon))
            index_s = time.perf_counter() - t0
        charts = [trends_for(counter, p, end) for p in profiles]
        count_s = time.perf_counter() - t0 - index_s
    distinct_topics = len({t for p in profiles for t in p.topics})
    distinct_counts = counter.counted
    unique: dict[Trends, int] = {}
    for t in charts:
        unique.setdefault(t, len(unique))
    papers_charted = [sum(s.total for s in t.series) for t in charts]

    sizes: list[int] = []
    serial: dict[str, Any] = {}
    with PeakMemory() as draw_peak:
        t0 = time.perf_counter()
        if workers > 0:
            # the palette, the font's characters and a frame made once here, inherited
            for first in list(unique)[:1]:
                render_chart(first)
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(workers) as pool:
                drawn = pool.map(_draw, list(unique), chunksize=8)
            size_of = dict(zip(unique, drawn, strict=True))
            sizes = [size_of[t] for t in charts]
            hits, misses = len(charts) - len(unique), len(unique)
        else:
            cache = ChartCache(size=1024)
            for t in charts:
                sizes.append(len(cache(t).content))  # sent, then let go
            hits, misses = cache.hits, cache.misses
        draw_s = time.perf_counter() - t0
    if workers > 0 and serial_sample > 0:
        sample = list(unique)[:serial_sample]
        t0 = time.perf_counter()
        for t in sample:
            render_chart(t)
        serial = {
            "charts": len(sample),
            "ms_per_chart": (time.perf_counter() - t0) / len(sample) * 1000,
        }

    return {
        "scenario": "charts",
        "channels": channels_n,
        "chunk_days": chunk_days,
        "split": split,
        "papers": len(papers),
        "days": days,
        "per_day": len(papers) / days,
        "topic_pool": len(corpus.topics),
        "distinct_topics": distinct_topics,
        "distinct_counts": distinct_counts,
        "generate_seconds": generated,
        "lexicon_seconds": lexicon_s,
        "index_seconds": index_s,
        "count_seconds": count_s,
        "count_ms_per_channel": count_s / channels_n * 1000,
        "count_peak_bytes": count_peak.peak,
        "charts_distinct": len(unique),
        "charts_drawn": misses,
        "charts_shared": hits,
        "workers": workers,
        "draw_seconds": draw_s,
        "draw_ms_per_drawn_chart": draw_s / max(1, misses) * 1000,
        "draw_ms_per_channel": draw_s / channels_n * 1000,
        "draw_peak_bytes": draw_peak.peak,
        "draw_children_peak_bytes": _children_peak() if workers > 0 else None,
        "serial_sample": serial,
        "png_bytes_mean": statistics.fmean(sizes) if sizes else 0,
        "png_bytes_max": max(sizes, default=0),
        "papers_per_chart_median": statistics.median(papers_charted) if charts else 0,
        "memory_method": count_peak.method,
        "load_average": os.getloadavg(),
        "machine": machine(),
    }


def table(r: dict[str, Any]) -> str:
    """The result as a short table."""
    rows = [
        ("channels", f"{r['channels']:,}"),
        ("papers (8 weeks + 6 days)", f"{r['papers']:,} ({r['per_day']:.0f}/day)"),
        ("distinct topics / counts", f"{r['distinct_topics']:,} / {r['distinct_counts']:,}"),
        (
            "index papers (Matchers)",
            f"{r['index_seconds']:.2f} s ("
            + (f"{r['chunk_days']} day(s) at a time)" if r["chunk_days"] else "all at once)"),
        ),
        (
            "count (topics evaluated once" + (", split)" if r["split"] else ")"),
            f"{r['count_seconds']:.2f} s ({r['count_ms_per_channel']:.2f} ms/channel)",
        ),
        ("peak memory, index + count", f"{r['count_peak_bytes'] / MiB:.0f} MiB"),
        (
            "charts distinct / drawn / shared",
            f"{r['charts_distinct']:,} / {r['charts_drawn']:,} / {r['charts_shared']:,}",
        ),
        (
            f"draw ({r['workers'] or 1} process{'es' if r['workers'] > 1 else ''})",
            f"{r['draw_seconds']:.1f} s ({r['draw_ms_per_drawn_chart']:.1f} ms/drawn chart, "
            f"{r['draw_ms_per_channel']:.1f} ms/channel)",
        ),
        ("peak memory, draw", f"{r['draw_peak_bytes'] / MiB:.0f} MiB"),
    ]
    if r["draw_children_peak_bytes"]:
        rows.append(
            ("peak memory, largest child process", f"{r['draw_children_peak_bytes'] / MiB:.0f} MiB")
        )
    if r["serial_sample"]:
        s = r["serial_sample"]
        rows.append(
            ("draw in one process (sample)", f"{s['ms_per_chart']:.1f} ms/chart ({s['charts']})")
        )
    rows += [
        (
            "PNG size mean / max",
            f"{r['png_bytes_mean'] / 1024:.0f} / {r['png_bytes_max'] / 1024:.0f} KiB",
        ),
        ("lexicon (cached in a service)", f"{r['lexicon_seconds']:.1f} s"),
        ("load average at the end", " ".join(f"{x:.2f}" for x in r["load_average"])),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.charts", description=__doc__)
    parser.add_argument("--channels", type=int, default=300)
    parser.add_argument("--per-day", type=int, default=1000, help="papers a day (<= 1000)")
    parser.add_argument("--topics", type=int, default=3000, help="the topic pool")
    parser.add_argument("--workers", type=int, default=0, help="drawing processes (0: this one)")
    parser.add_argument("--serial-sample", type=int, default=100)
    parser.add_argument(
        "--chunk-days", type=int, default=1, help="days of papers a Matcher (0: all at once)"
    )
    parser.add_argument(
        "--split", action="store_true", help="evaluate topics in two processes (per Matcher)"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write the result there too")
    args = parser.parse_args(argv)
    result = run(
        channels_n=args.channels,
        per_day=args.per_day,
        topics=args.topics,
        workers=args.workers,
        serial_sample=args.serial_sample,
        chunk_days=args.chunk_days,
        split=args.split,
        seed=args.seed,
    )
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
