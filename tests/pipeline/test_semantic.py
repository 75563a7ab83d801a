"""semantic: a topic's related terms from the archive's own vocabulary, by embedding
neighbours, as weaker evidence. A fake Encoder with deterministic vectors: texts naming a
word of a "meaning" group point the same way, every other text its own way."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from bot.evaluate import semantic_grid, tuning_grid
from bot.models import Paper
from bot.pipeline.evidence import DEFAULT_TUNING
from bot.pipeline.lexicon import build
from bot.pipeline.match import Matcher, topics_profile
from bot.pipeline.query import understand
from bot.pipeline.semantic import Semantic, candidate_terms, queries

# Words of one group mean nearly the same; `weak` ones only somewhat.
GROUPS = {
    "software": ({"code", "program", "programs", "programming", "synthesis", "sql"}, set()),
    "health": ({"medical", "clinical", "radiology"}, {"hospital"}),
}
DIM = 16


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


class FakeEncoder:
    """Deterministic vectors: a group's direction for a text naming one of its words
    (0.8 of it for a weak word), plus a direction hashed from the text."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        self.encoded += texts
        out = []
        for t in texts:
            words = set(t.lower().replace("-", " ").split())
            v = [0.0] * DIM
            for g, (strong, weak) in enumerate(GROUPS.values()):
                if words & strong:
                    v[g] += 3.0
                elif words & weak:
                    v[g] += 1.0
            h = int(hashlib.sha256(t.encode()).hexdigest(), 16)
            v[2 + h % (DIM - 2)] += 1.0
            out.append(_unit(v))
        return out

    def similarities(self, query: list[float], vectors: Sequence[list[float]]) -> list[float]:
        return [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]


def filler(n: int = 40) -> list[Paper]:
    subjects = ("graph partitioning", "weather forecasting", "protein folding", "robot grasping")
    return [
        Paper(
            title=f"Scalable {subjects[i % 4].title()} Study {i}",
            arxiv_id=f"2401.{i:05d}",
            abstract=f"We present a framework for {subjects[i % 4]}. Benchmark {i} improves.",
        )
        for i in range(n)
    ]


SYNTHESIS = [
    Paper(
        title="Program Synthesis from Examples",
        arxiv_id="2402.00001",
        abstract="We study program synthesis with search.",
    ),
    Paper(
        title="Neural Program Synthesis at Scale",
        arxiv_id="2402.00002",
        abstract="Program synthesis for spreadsheets.",
    ),
]


def test_candidate_terms_are_ngrams_of_two_papers_or_more_without_stopword_edges() -> None:
    terms = {t.label for t in candidate_terms([*SYNTHESIS, *filler(8)])}
    assert "program synthesis" in terms  # in both synthesis papers
    assert "neural program synthesis" not in terms  # in one paper only
    assert not any(t.split()[0] in {"we", "for", "with", "the"} for t in terms)
    assert not any(t.split()[-1] in {"we", "for", "with", "the", "from"} for t in terms)


def test_candidates_of_a_large_archive_come_from_a_bounded_sample(monkeypatch) -> None:
    import bot.pipeline.semantic as semantic

    monkeypatch.setattr(semantic, "MAX_SOURCE_PAPERS", 10)
    seen: list[str] = []
    real = semantic._grams

    def spy(text: str):  # type: ignore[no-untyped-def]
        seen.append(text)
        return real(text)

    monkeypatch.setattr(semantic, "_grams", spy)
    candidate_terms(filler(40))
    assert len([t for t in seen if t.startswith("Scalable")]) == 10


def test_queries_are_the_typed_text_and_the_full_phrasings() -> None:
    lexicon = build(filler())
    concept = understand("code generation", lexicon)
    assert queries(concept)[0] == "code generation"


def test_related_terms_are_similar_and_capped() -> None:
    papers = [*SYNTHESIS, *filler()]
    lexicon = build(papers)
    semantic = Semantic(FakeEncoder())
    concept = understand("code generation", lexicon)
    related = semantic.related(concept, papers, 0.5)
    assert "program synthesis" in [r.label for r in related]
    assert all(r.similarity >= 0.5 for r in related)
    assert semantic.related(concept, papers, 0.99) == []
    assert len(semantic.related(concept, papers, 0.0, limit=2)) == 2


class TableEncoder:
    """Vectors from a table; any other text points elsewhere."""

    TABLE: ClassVar[dict[str, tuple[float, float, float]]] = {
        "code generation": (1.0, 0.0, 0.0),
        "code": (0.8, 0.6, 0.0),
        "source code": (0.6, 0.8, 0.0),  # less like the topic than "code" alone
        "code agents": (0.95, 0.312, 0.0),  # more like it than "code" alone
        "program synthesis": (0.9, 0.436, 0.0),
    }

    def encode(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        return [self.TABLE.get(t, (0.0, 0.0, 1.0)) for t in texts]

    def similarities(self, query: tuple[float, ...], vectors: Sequence[tuple[float, ...]]):
        return [sum(a * b for a, b in zip(query, v, strict=True)) for v in vectors]


def test_a_term_with_some_of_the_topics_words_counts_only_when_its_other_words_bring_it_nearer():
    """`code` alone and `code generation` are the lexical evidence's; `source code` is less
    like the topic than `code` (its other word leads away), `code agents` more."""
    body = "We study program synthesis, source code, code agents and code generation."
    papers = [
        Paper(title=f"Study {k}", arxiv_id=f"2405.0000{k}", abstract=body) for k in range(2)
    ] + filler()
    concept = understand("code generation", build(papers))
    labels = [r.label for r in Semantic(TableEncoder()).related(concept, papers, 0.1)]
    assert "program synthesis" in labels and "code agents" in labels
    assert "source code" not in labels
    assert "code" not in labels and "code generation" not in labels


def test_each_text_is_encoded_once() -> None:
    papers = [*SYNTHESIS, *filler()]
    lexicon = build(papers)
    encoder = FakeEncoder()
    semantic = Semantic(encoder)
    for _ in range(3):
        semantic.related(understand("code generation", lexicon), papers, 0.5)
        semantic.related(understand("medical", lexicon), papers, 0.5)
    assert len(encoder.encoded) == len(set(encoder.encoded))


def test_a_paper_that_never_says_the_topic_is_found_by_meaning() -> None:
    papers = [*SYNTHESIS, *filler()]
    lexicon = build(papers)
    profile = topics_profile(["code generation"])
    assert Matcher(papers, lexicon).match(profile) == []  # lexical evidence alone: nothing
    semantic = Semantic(FakeEncoder())
    found = Matcher(papers, lexicon, DEFAULT_TUNING, semantic).match(profile)
    assert {m.paper.arxiv_id for m in found} == {"2402.00001", "2402.00002"}
    assert any(r.startswith("related in meaning (title): ") for r in found[0].reasons)


def test_semantic_weight_zero_or_a_high_similarity_changes_nothing() -> None:
    papers = [*SYNTHESIS, *filler()]
    lexicon = build(papers)
    profile = topics_profile(["code generation"])
    semantic = Semantic(FakeEncoder())
    off = replace(DEFAULT_TUNING, w_semantic=0.0)
    assert Matcher(papers, lexicon, off, semantic).match(profile) == []
    strict = replace(DEFAULT_TUNING, semantic_similarity=0.999, semantic_within=0.0)
    assert Matcher(papers, lexicon, strict, semantic).match(profile) == []


def test_an_abstract_mention_alone_is_weaker_than_the_threshold() -> None:
    once = Paper(
        title="Scalable Weather Forecasting Study 99",
        arxiv_id="2403.00001",
        abstract="A side note on program synthesis.",
    )
    papers = [*SYNTHESIS, once, *filler()]
    lexicon = build(papers)
    matcher = Matcher(papers, lexicon, DEFAULT_TUNING, Semantic(FakeEncoder()))
    keys = {m.paper.arxiv_id for m in matcher.match(topics_profile(["code generation"]))}
    assert "2403.00001" not in keys


def test_semantic_grid_adds_similarity_and_weight_and_an_off_option() -> None:
    base = tuning_grid(thresholds=(0.65,), abstract_weights=(0.6,), related_weights=(0.15,))
    d = DEFAULT_TUNING
    grid = semantic_grid(
        base,
        similarities=(0.6, 0.7),
        weights=(0.0, 0.35),
        within=(d.semantic_within,),
        abstract=(d.semantic_abstract,),
    )
    assert len(grid) == 3  # off once, and two similarities with the weight
    assert {(t.semantic_similarity, t.w_semantic) for t in grid} == {
        (DEFAULT_TUNING.semantic_similarity, 0.0),
        (0.6, 0.35),
        (0.7, 0.35),
    }


def test_semantic_grid_adds_relative_cuts_and_abstract_shares_at_the_default_similarity():
    base = tuning_grid(thresholds=(0.65,), abstract_weights=(0.6,), related_weights=(0.15,))
    grid = semantic_grid(
        base, similarities=(0.7,), weights=(0.0, 0.35), within=(0.0, 0.05), abstract=(0.0, 1.0)
    )
    found = {(t.w_semantic, t.semantic_within, t.semantic_abstract) for t in grid}
    assert len(grid) == len(found) == 6  # off, 0.7 with the defaults, and 2 x 2
    assert (0.35, 0.05, 1.0) in found and (0.35, 0.0, 0.0) in found
