"""query: what a typed subscription means, learned from the archive (nothing hard-coded)."""

from __future__ import annotations

import pytest

from bot.models import Paper
from bot.pipeline.lexicon import Lexicon, build
from bot.pipeline.query import (
    TRIMMED_WEIGHT,
    Concept,
    fold_topic,
    understand,
)
from bot.pipeline.text import stem

SUBJECTS = (
    "graph partitioning",
    "weather forecasting",
    "protein folding",
    "robot grasping",
    "tabular data",
    "image segmentation",
    "recommendation",
    "time series",
)


def key(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in text.lower().replace("-", " ").split())


def filler(n: int) -> list[Paper]:
    """Papers on unrelated subjects; every one says `learning` (a generic word)."""
    return [
        Paper(
            title=f"Scalable {SUBJECTS[i % len(SUBJECTS)].title()} Study {i}",
            abstract=f"We present a learning framework for {SUBJECTS[i % len(SUBJECTS)]}. "
            f"Experiments on benchmark {i} show more gains than before.",
        )
        for i in range(n)
    ]


MOE_DEFINED = [
    Paper(
        title="Sparse Mixture-of-Experts at Scale",
        abstract="Sparse Mixture-of-Experts (MoE) models route tokens to experts.",
    ),
    Paper(
        title="Routing Tokens",
        abstract="We study routers for mixture of experts (MoE) language models.",
    ),
]
# The same words, never defined as an acronym.
MOE_UNDEFINED = [
    Paper(title="Sparse Mixture-of-Experts at Scale", abstract="Mixture-of-Experts route tokens."),
    Paper(title="MoE Routing", abstract="Our MoE layers route tokens to experts."),
]
MULTITASK = [
    Paper(
        title="Multi-Task Learning for Vision",
        abstract="A multitask model shares layers across tasks. Multi-task training helps.",
    ),
    Paper(title="Multitask Prompting", abstract="We prompt a multitask model on many tasks."),
]


def labels(c: Concept) -> set[str]:
    return {p.label for p in c.phrases}


def stem_phrases(c: Concept) -> set[tuple[str, ...]]:
    return {p.stems for p in c.phrases}


# --- acronyms, both ways, learned -----------------------------------------------------------


@pytest.mark.parametrize("typed", ["moe", "MoE", "MOE", " moe ", "ＭｏＥ"])
def test_a_typed_acronym_gets_the_long_form_defined_in_the_archive(typed: str) -> None:
    c = understand(typed, build(MOE_DEFINED + filler(10)))
    assert key("mixture of experts") in stem_phrases(c)
    assert ("moe",) in stem_phrases(c)
    assert c.long_forms == frozenset({key("mixture of experts")})
    # core words come from the long form: `moe` alone says nothing about the papers' words
    assert c.core == key("mixture experts")
    assert any("mixture of experts" in n and "learned" in n for n in c.notes)


@pytest.mark.parametrize(
    "typed", ["mixture of experts", "Mixture-of-Experts", "mixtures of experts"]
)
def test_a_typed_long_form_gets_its_acronym(typed: str) -> None:
    c = understand(typed, build(MOE_DEFINED + filler(10)))
    moe = [p for p in c.phrases if p.stems == ("moe",)]
    assert moe and moe[0].short_form == "moe"
    assert key("mixture of experts") in c.long_forms
    assert any("'moe'" in n.lower() for n in c.notes)


def test_without_a_definition_in_the_archive_moe_has_no_long_form() -> None:
    lex = build(MOE_UNDEFINED + filler(10))
    assert lex.vocab.get("moe", 0) > 0 and lex.vocab.get("mixture", 0) > 0
    c = understand("moe", lex)
    assert stem_phrases(c) == {("moe",)}
    assert c.long_forms == frozenset()
    assert c.core == ("moe",)
    back = understand("mixture of experts", lex)
    assert ("moe",) not in stem_phrases(back)


def test_an_acronym_means_what_the_archive_defines_it_as() -> None:
    other = [Paper(title="Retrieval", abstract="A Mixture of Embeddings (MoE) helps recall.")]
    c = understand("moe", build(other + filler(10)))
    assert key("mixture of embeddings") in stem_phrases(c)
    assert key("mixture of experts") not in stem_phrases(c)


def test_any_acronym_defined_in_the_archive_is_understood() -> None:
    papers = [
        Paper(title="GNNs", abstract="Graph neural networks (GNNs) pass messages on graphs."),
        Paper(title="Alignment", abstract="We revisit reward models for RLHF at scale."),
        Paper(
            title="Feedback", abstract="Reinforcement learning from human feedback (RLHF) aligns."
        ),
    ]
    lex = build(papers + filler(10))
    assert key("graph neural networks") in stem_phrases(understand("gnn", lex))
    assert key("reinforcement learning from human feedback") in stem_phrases(
        understand("rlhf", lex)
    )
    assert ("rlhf",) in stem_phrases(understand("reinforcement learning from human feedback", lex))


def test_a_plural_acronym_is_understood_like_the_singular() -> None:
    papers = [
        Paper(title="Judges", abstract="Large language models (LLMs) grade essays."),
        Paper(title="Agents", abstract="Large language models (LLMs) use tools."),
    ]
    lex = build(papers + filler(10))
    assert key("large language models") in stem_phrases(understand("llm", lex))
    assert key("large language models") in stem_phrases(understand("LLMs", lex))


def test_a_hyphenated_acronym_is_understood_both_ways() -> None:
    papers = [
        Paper(title="MH-MoE", abstract="We propose multi-head mixture-of-experts (MH-MoE)."),
        Paper(title="Heads", abstract="Multi-head mixture-of-experts (MH-MoE) splits tokens."),
    ]
    lex = build(papers + filler(10))
    assert key("mh moe") in stem_phrases(understand("multi-head mixture of experts", lex))
    assert key("multi head mixture of experts") in stem_phrases(understand("MH-MoE", lex))


def test_a_topic_also_matches_acronyms_of_its_kinds() -> None:
    papers = [
        Paper(title="NMT", abstract="Neural machine translation (NMT) needs parallel data."),
        Paper(title="SMT", abstract="Statistical machine translation (SMT) came first."),
    ]
    c = understand("machine translation", build(papers + filler(10)))
    assert {("nmt",), ("smt",)} <= stem_phrases(c)
    assert key("machine translation") in c.long_forms


# --- compound spelling variants -------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["multi-task learning", "multitask learning", "multi task learning"]
)
def test_compound_variants_are_understood_when_the_archive_writes_them(typed: str) -> None:
    c = understand(typed, build(MULTITASK + filler(10)))
    assert {key("multi task learning"), key("multitask learning")} <= stem_phrases(c)


def test_no_joined_variant_when_the_archive_never_writes_it() -> None:
    papers = [Paper(title="Multi-Task Learning", abstract="Multi-task models share tasks.")]
    c = understand("multi-task learning", build(papers + filler(10)))
    assert key("multi task learning") in stem_phrases(c)
    assert key("multitask learning") not in stem_phrases(c)


def test_no_split_variant_when_the_halves_are_not_archive_words() -> None:
    papers = [Paper(title="Multitask Learning", abstract="A multitask model.")]
    c = understand("multitask learning", build(papers + filler(10)))
    # (`learning` is in every paper: `multitask` alone also counts, at a lower weight)
    assert {p.stems for p in c.phrases if p.weight == 1} == {key("multitask learning")}
    assert key("multi task") not in stem_phrases(c)


# --- typo repair ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "wrong", "right"),
    [
        ("mixture of experst", "experst", "experts"),
        ("mixtrue of experts", "mixtrue", "mixture"),
        ("Mixture of Exprets", "exprets", "experts"),
    ],
)
def test_a_typo_is_repaired_against_the_archive_vocabulary(
    typed: str, wrong: str, right: str
) -> None:
    c = understand(typed, build(MOE_DEFINED + filler(10)))
    assert key("mixture of experts") in stem_phrases(c)
    assert f"read '{wrong}' as '{right}'" in c.notes
    assert ("moe",) in stem_phrases(c)  # and the repaired topic finds its acronym


def test_a_repaired_single_word_topic() -> None:
    papers = [Paper(title="Speech", abstract="Speech recognition of speech.")]
    c = understand("spech", build(papers + filler(10)))
    assert stem_phrases(c) == {("speech",)}
    assert "read 'spech' as 'speech'" in c.notes


def test_short_words_are_never_repaired() -> None:
    # `more` is everywhere, `moe` nowhere: still `moe` is not read as `more`
    lex = build(filler(20))
    assert lex.vocab["more"] >= 20 and "moe" not in lex.vocab
    c = understand("moe", lex)
    assert stem_phrases(c) == {("moe",)}
    assert c.notes == ()


def test_words_the_archive_knows_are_never_repaired() -> None:
    papers = [Paper(title="Mode Collapse", abstract="Modes and models collapse.")]
    c = understand("modes", build(papers + filler(10)))
    assert stem_phrases(c) == {(stem("modes"),)} and c.notes == ()


def test_a_word_far_from_every_archive_word_is_kept_as_typed() -> None:
    c = understand("quantum", build(filler(20)))
    assert stem_phrases(c) == {("quantum",)} and c.notes == ()


# --- generic words --------------------------------------------------------------------------


def test_generic_word_is_trimmed_in_a_large_enough_archive() -> None:
    lex = build(MULTITASK + filler(60))
    assert lex.df["learn"] / lex.n_docs >= 0.35  # `learning` is everywhere
    c = understand("multi-task learning", lex)
    trimmed = {p.stems: p.weight for p in c.phrases if p.weight < 1}
    assert trimmed.get(key("multi task")) == TRIMMED_WEIGHT
    assert all(p.weight == 1 for p in c.phrases if "learn" in p.stems)
    assert "'multi task' alone also counts" in c.notes


def test_a_small_archive_trims_as_a_large_one_does() -> None:
    # below 50 papers the archive's shares are noise: the reference statistics decide
    for lex in (build(MULTITASK + filler(10)), build(MULTITASK)):
        c = understand("multi-task learning", lex)
        trimmed = {p.stems: p.weight for p in c.phrases if p.weight < 1}
        assert trimmed.get(key("multi task")) == TRIMMED_WEIGHT


def test_a_lone_word_left_after_trimming_must_be_rare() -> None:
    # `gains` and `benchmark` are both everywhere: nothing specific remains
    c = understand("benchmark gains", build(filler(60)))
    assert all(p.weight == 1 for p in c.phrases)


def test_core_weights_sum_to_one_and_favour_the_rarer_word() -> None:
    c = understand("multi-task learning", build(MULTITASK + filler(60)))
    assert c.core == ("multi", "task", "learn")
    assert sum(c.weights.values()) == pytest.approx(1.0)
    assert c.weights["multi"] > c.weights["learn"]
    assert c.weights["task"] > c.weights["learn"]


# --- degenerate input -----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["", "   ", "🙂", "🙂🚀", "!!!", "—", "()", "\u200b"])
@pytest.mark.parametrize("lex", [Lexicon(), build(MOE_DEFINED + filler(10))])
def test_empty_subscriptions_give_an_empty_concept(typed: str, lex: Lexicon) -> None:
    c = understand(typed, lex)
    assert c.empty
    assert c.phrases == () and c.core == ()


def test_an_empty_lexicon_still_understands_the_typed_words() -> None:
    c = understand("Speech Synthesis", Lexicon())
    assert stem_phrases(c) == {key("speech synthesis")}
    assert c.core == key("speech synthesis")
    assert c.text == "Speech Synthesis"


def test_fold_topic_ignores_case_spacing_and_punctuation() -> None:
    assert fold_topic("  Multi-Task   LEARNING ") == fold_topic("multi task learning")
    assert fold_topic("ＭｏＥ") == "moe"
    assert fold_topic("🙂") == ""
