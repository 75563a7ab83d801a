"""A cycle's digest items made once per selected Match (`bot.pipeline.plan.Items`) give
every channel the digest it gets with items made afresh; an asked-about Match is made
each time, and the items' summaries keep the cycle's length."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.synth import Corpus  # noqa: E402
from bot.pipeline.lexicon import build  # noqa: E402
from bot.pipeline.match import Matcher  # noqa: E402
from bot.pipeline.matches import Match  # noqa: E402
from bot.pipeline.plan import Items, plan_digest  # noqa: E402

DAY = date(2026, 11, 30)


def test_shared_items_make_the_same_digests() -> None:
    corpus = Corpus(4)
    papers = list(corpus.papers(300, first_seen=datetime(2026, 11, 30, tzinfo=UTC)))
    matcher = Matcher(papers, build(papers))
    items = Items(120)
    for p in corpus.profiles(80):
        matches, matched = matcher.best(p, limit=p.max_posts)
        asked = matcher.unsure(p, limit=2)
        fresh = plan_digest(p, matches, day=DAY, summary_chars=120, matched=matched, asked=asked)
        shared = plan_digest(p, matches, day=DAY, matched=matched, asked=asked, items=items)
        assert shared == fresh
        assert all(len(i.summary) <= 120 for i in shared.items)


def test_a_match_is_made_once_and_an_asked_one_each_time() -> None:
    paper = next(iter(Corpus(4).papers(1)))
    m = Match(paper, 0.7, ("moe",), ("title: 'moe'",))
    items = Items()
    assert items(m) is items(m)
    assert items(m, True) is not items(m, True)
    assert items(m, True).unsure and not items(m).unsure
    assert items(m) == items(Match(paper, 0.7, ("moe",), ("title: 'moe'",)))
