"""The weekly digest's example (`make weekly-example`): the console weekly path run on a
small deterministic synthetic archive of eight weeks, writing the chart and the message
(docs/weekly-example.png and docs/weekly-example.txt, committed).

The bundled sample (bot/data) is one day only; a chart needs weeks, so the papers are
made here: three topics over 64 days up to Friday 27 November 2026, with a trend each
(Mixture-of-Experts rising, speech recognition steady, reinforcement learning easing), a
quieter weekend, HF upvotes on some, and papers off every topic. Same code, same bytes:
the papers, the clock and the chart are all fixed (tests/test_weekly_example.py checks
the committed PNG is what this writes).

    python -m bot.weekly_example [OUTPUT_DIR]   (default: docs)
"""

from __future__ import annotations

import asyncio
import io
import random
import sys
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bot.app import build_app
from bot.delivery.console import ConsoleDelivery
from bot.models import Paper
from bot.settings import ChannelSettings, Settings
from bot.weekly import WeeklyOutcome

END = date(2026, 11, 27)  # a Friday: the week shown ends on it
RUN_AT = datetime.combine(END, time(16, 0, 5), tzinfo=UTC)  # `weekly: "fri 16:00"`, UTC
DAYS = 64  # the chart's 56 days, the 6 before them its 7-day means count, and 2 more
SEED = 19
TOPICS = ("mixture of experts", "speech recognition", "reinforcement learning")
PNG, TEXT = "weekly-example.png", "weekly-example.txt"

_SUBJECTS = {
    "mixture of experts": (
        "Sparse Mixture-of-Experts",
        "We propose a mixture of experts layer whose learned router sends each token to "
        "two experts, balancing expert load in sparse MoE language models.",
    ),
    "speech recognition": (
        "Speech Recognition",
        "We present an automatic speech recognition model that transcribes spoken audio "
        "with a streaming acoustic encoder, lowering word error rate.",
    ),
    "reinforcement learning": (
        "Reinforcement Learning",
        "We introduce a reinforcement learning agent whose policy is trained from reward "
        "with an off-policy value estimate, improving sample efficiency.",
    ),
    "": (
        "Graph Layout",
        "We describe a force-directed drawing method for large planar graphs on a canvas.",
    ),
}
_ANGLES = (
    "at Scale",
    "for Low-Resource Settings",
    "with Fewer Parameters",
    "Revisited",
    "under Distribution Shift",
    "in Practice",
    "for Long Contexts",
    "from First Principles",
)


def _per_day(topic: str, d: int, weekday: int, rng: random.Random) -> int:
    """Papers of `topic` on day `d` (0: the first of DAYS) with its trend."""
    base = {
        "mixture of experts": 0.5 + 5.5 * (d / DAYS) ** 2,  # rising, faster lately
        "speech recognition": 2.0,  # steady
        "reinforcement learning": 3.5 - 2.5 * d / DAYS,  # easing
        "": 2.0,
    }[topic]
    if weekday >= 5:
        base *= 0.3
    return max(0, round(base + rng.uniform(-1.0, 1.0)))


def synthetic_papers(end: date = END, days: int = DAYS, seed: int = SEED) -> list[Paper]:
    """The example's papers: for each of `days` days up to `end`, each topic's papers that
    day (published at noon UTC, first stored the same day), deterministic for `seed`."""
    rng = random.Random(seed)
    papers: list[Paper] = []
    n = 0
    for d in range(days):
        day = end - timedelta(days=days - 1 - d)
        when = datetime.combine(day, time(12, 0), tzinfo=UTC)
        for topic, (subject, abstract) in _SUBJECTS.items():
            for _ in range(_per_day(topic, d, day.weekday(), rng)):
                n += 1
                angle = _ANGLES[rng.randrange(len(_ANGLES))]
                upvotes = rng.choice((None, None, rng.randrange(1, 60)))
                papers.append(
                    Paper(
                        title=f"{subject} {angle}: Study {n}",
                        abstract=f"{abstract} Study {n} measures it on benchmark {n % 7}.",
                        arxiv_id=f"{day:%y%m}.{n:05d}",
                        authors=(f"A. Author{n % 11}", f"B. Writer{n % 5}"),
                        published=when,
                        first_seen=when,
                        upvotes=upvotes,
                        sources=("example",),
                    )
                )
    return papers


def example_settings(database: str) -> Settings:
    """A console channel following TOPICS with `weekly: "fri 16:00"` (UTC)."""
    return Settings(
        database=database,
        channels=[
            ChannelSettings(
                platform="console",
                id="ml-papers",
                name="ml-papers",
                topics=list(TOPICS),
                weekly="fri 16:00",
                max_posts=5,
            )
        ],
    )


def run_example(out_dir: Path) -> WeeklyOutcome:
    """Run the console weekly digest on the synthetic archive (a temporary database) and
    write its chart (PNG) and its text into `out_dir`; the channel's outcome."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(example_settings(str(Path(tmp) / "example.db")), clock=lambda: RUN_AT)
        try:
            app.archive.upsert(synthetic_papers(), now=RUN_AT)
            stream = io.StringIO()
            console = ConsoleDelivery(stream, files_dir=Path(tmp) / "console")
            cycle = app.weekly_cycle({"console": console})
            outcomes = asyncio.run(cycle.run(app.profiles.all()))
        finally:
            app.close()
    outcome = outcomes[0]
    chart = outcome.chart
    if outcome.failed or chart is None:
        raise SystemExit(f"the weekly example failed: {outcome.status} {outcome.error or ''}")
    (out_dir / PNG).write_bytes(chart.content)
    text = outcome.message.payload.get("text", "") if outcome.message else ""
    (out_dir / TEXT).write_text(f"{text}\n", encoding="utf-8")
    return outcome


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path("docs")
    outcome = run_example(out_dir)
    print(f"wrote {out_dir / PNG} and {out_dir / TEXT} ({outcome.status})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
