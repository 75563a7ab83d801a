"""`Matcher.best` (a digest's few best matches, merged from each topic's ranking) is
`match` filtered and cut: the same Matches, in the same order, with the same count."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Paper, Profile
from bot.pipeline.lexicon import build
from bot.pipeline.match import Matcher

SUBJECTS = (
    "graph partitioning",
    "weather forecasting",
    "protein folding",
    "robot grasping",
    "speech recognition",
    "machine translation",
    "image segmentation",
    "time series",
    "mixture of experts",
    "code generation",
)
AUTHORS = ("Zoë Ünal", "Ada Lovelace", "Alan Turing")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _papers(n: int = 90) -> list[Paper]:
    """Papers about one to three subjects each (title, abstract or both), so that topics
    share papers and scores, upvotes and days vary and tie."""
    rng = random.Random(7)
    out = []
    for i in range(n):
        about = rng.sample(SUBJECTS, rng.randint(1, 3))
        title = f"{about[0].title()} at Scale {i}" if rng.random() < 0.6 else f"A Study {i}"
        sentences = [f"We study {s} with a new method." for s in about for _ in range(2)]
        out.append(
            Paper(
                title=title,
                abstract=" ".join(sentences) + " Results improve on benchmarks.",
                arxiv_id=f"2411.{i:05d}",
                authors=(rng.choice(AUTHORS), "Bo Li"),
                upvotes=rng.choice([None, 0, 3, 3, 10]),
                first_seen=T0 + timedelta(hours=rng.randint(0, 72)),
            )
        )
    return out


PAPERS = _papers()
MATCHER = Matcher(PAPERS, build(PAPERS))


@settings(max_examples=200, deadline=None)
@given(
    topics=st.lists(st.sampled_from(SUBJECTS), min_size=1, max_size=5),
    exclude=st.lists(st.sampled_from([*SUBJECTS, "scale"]), max_size=2),
    authors=st.lists(st.sampled_from(AUTHORS), max_size=1),
    drops=st.lists(st.sets(st.integers(0, len(PAPERS) - 1), max_size=40), max_size=2),
    window=st.tuples(st.integers(0, 80), st.integers(0, 80)),
    limit=st.integers(0, 12),
)
def test_best_is_match_filtered_and_cut(
    topics: list[str],
    exclude: list[str],
    authors: list[str],
    drops: list[set[int]],
    window: tuple[int, int],
    limit: int,
) -> None:
    profile = Profile(
        platform="slack",
        channel_id="C1",
        topics=tuple(topics),
        exclude=tuple(exclude),
        authors=tuple(authors),
    )
    start, end = T0 + timedelta(hours=window[0]), T0 + timedelta(hours=window[1])
    outside = MATCHER.outside(start, end)
    assert outside == {
        i for i, p in enumerate(PAPERS) if not (p.first_seen and start <= p.first_seen <= end)
    }
    dropped = set(outside).union(*drops)
    kept = [m for m in MATCHER.match(profile) if MATCHER.index_of(m.paper.key) not in dropped]
    got, count = MATCHER.best(profile, drop=[outside, *drops], limit=limit)
    assert got == (kept[:limit] if limit else kept)
    assert count == len(kept)


def test_best_of_a_busy_profile_is_its_top_matches() -> None:
    profile = Profile(platform="slack", channel_id="C1", topics=SUBJECTS[:4])
    everything = MATCHER.match(profile)
    assert len(everything) > 10  # the case `best` is for: more matches than the cap
    got, count = MATCHER.best(profile, limit=10)
    assert got == everything[:10] and count == len(everything)
