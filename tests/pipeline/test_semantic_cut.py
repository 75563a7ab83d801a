"""The relative cut of semantic evidence (Tuning.semantic_within): a topic whose nearest
terms all fall a little below the similarity cut still has its nearest ones, when the
best of them is at least the floor; topics with terms above the cut keep exactly those."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from bot.models import Paper
from bot.pipeline.evidence import DEFAULT_TUNING
from bot.pipeline.lexicon import build
from bot.pipeline.match import Matcher, topics_profile
from bot.pipeline.query import understand
from bot.pipeline.semantic import FLOOR, Semantic


class Table:
    """Unit vectors from a table (similarity to the topic = first coordinate)."""

    TABLE: ClassVar[dict[str, tuple[float, float, float]]] = {
        "graph mining": (1.0, 0.0, 0.0),
        "subgraph search": (0.66, 0.751, 0.0),
        "network analysis": (0.65, 0.76, 0.0),
        "vertex cover": (0.62, 0.785, 0.0),
        "weather forecasting": (0.1, 0.995, 0.0),
    }

    def encode(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        return [self.TABLE.get(t, (0.0, 0.0, 1.0)) for t in texts]

    def similarities(self, query: tuple[float, ...], vectors: Sequence[tuple[float, ...]]):
        return [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]


def papers() -> list[Paper]:
    body = "We compare subgraph search, network analysis, vertex cover and weather forecasting."
    return [Paper(title=f"Study {k}", arxiv_id=f"2405.0000{k}", abstract=body) for k in range(3)]


def labels(within: float, similarity: float = 0.7, floor: float = FLOOR) -> list[str]:
    ps = papers()
    concept = understand("graph mining", build(ps))
    found = Semantic(Table()).related(concept, ps, similarity, within=within, floor=floor)
    return [r.label for r in found]


def test_without_a_relative_cut_nothing_below_the_similarity_counts() -> None:
    assert labels(0.0) == []
    assert labels(0.0, similarity=0.64) == ["subgraph search", "network analysis"]


def test_the_terms_within_reach_of_the_nearest_one_count() -> None:
    assert labels(0.02) == ["subgraph search", "network analysis"]
    assert labels(0.05) == ["subgraph search", "network analysis", "vertex cover"]


def test_a_relative_cut_never_raises_the_similarity_cut() -> None:
    assert labels(0.02, similarity=0.6) == ["subgraph search", "network analysis", "vertex cover"]


def test_nothing_when_the_nearest_term_is_below_the_floor() -> None:
    assert labels(0.05, floor=0.7) == []


def test_a_related_term_in_the_abstract_cannot_lift_a_passing_mention_by_default() -> None:
    """One abstract mention of the topic (below the threshold) and a related term in the
    same abstract: selected only when abstract terms count (semantic_abstract > 0)."""
    passing = Paper(
        title="Weather Forecasting at Scale",
        arxiv_id="2405.00009",
        abstract="We forecast rain. Unlike graph mining, we use subgraph search on radar grids.",
    )
    ps = [*papers(), passing]
    lexicon = build(ps)
    semantic = Semantic(Table())
    profile = topics_profile(["graph mining"])
    base = replace(DEFAULT_TUNING, semantic_similarity=0.6, semantic_within=0.0)
    assert DEFAULT_TUNING.semantic_abstract == 0.0
    by_default = Matcher(ps, lexicon, base, semantic).match(profile)
    assert "2405.00009" not in {m.paper.arxiv_id for m in by_default}
    counted = replace(base, semantic_abstract=1.0)
    lifted = Matcher(ps, lexicon, counted, semantic).match(profile)
    assert "2405.00009" in {m.paper.arxiv_id for m in lifted}
