"""lexicon: acronym definitions (Schwartz-Hearst), document frequencies and vocabulary."""

from __future__ import annotations

import pytest

from bot.models import Paper
from bot.pipeline.lexicon import Lexicon, best_long_form, build, find_definitions
from bot.pipeline.text import stem


def key(text: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in text.lower().replace("-", " ").split())


# --- Schwartz-Hearst ------------------------------------------------------------------------


def test_best_long_form_is_the_shortest_tail_spelling_the_acronym() -> None:
    assert best_long_form("MoE", "we train a sparse Mixture-of-Experts") == "Mixture-of-Experts"
    assert best_long_form("NMT", "low-resource neural machine translation") == (
        "neural machine translation"
    )


def test_best_long_form_first_letter_must_start_a_word() -> None:
    # the `m` inside `summary` cannot start the long form of `MT`
    assert best_long_form("MT", "summary translation") is None


@pytest.mark.parametrize(
    ("short", "before"),
    [
        ("MoE", "we train a sparse model"),  # only `model` spells it: one word is too short
        ("XYZ", "we use a big model"),
        ("MT", "translation"),  # one word is not a long form for two letters
        ("AB", "xa b"),  # `a` does not start a word
    ],
)
def test_best_long_form_rejects_when_letters_do_not_match(short: str, before: str) -> None:
    assert best_long_form(short, before) is None


def test_best_long_form_rejects_a_long_form_with_too_many_words() -> None:
    # 2 letters allow at most min(2 + 5, 2 * 2 + 1) = 5 words
    assert best_long_form("MT", "machine learning on all of the hard translation") is None
    assert best_long_form("MT", "on all of the machine translation") == "machine translation"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sparse Mixture-of-Experts (MoE) models scale well.",
            [("MoE", "Mixture-of-Experts")],
        ),
        (
            "Large language models (LLMs) are good at it.",
            [("LLM", "Large language models")],  # plural short form -> singular
        ),
        (
            "We propose multi-head mixture-of-experts (MH-MoE) here.",
            [("MH-MoE", "multi-head mixture-of-experts")],
        ),
        (
            "We build on retrieval-augmented generation (RAG).",
            [("RAG", "retrieval-augmented generation")],
        ),
        (
            "Reinforcement learning from human feedback (RLHF), then direct preference "
            "optimization (DPO; Rafailov et al.).",
            [
                ("RLHF", "Reinforcement learning from human feedback"),
                ("DPO", "direct preference optimization"),
            ],
        ),
        ("A vision transformer (ViT) and more.", [("ViT", "vision transformer")]),
    ],
)
def test_find_definitions(text: str, expected: list[tuple[str, str]]) -> None:
    assert find_definitions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "We use a big model (XYZ) for this.",  # letters do not match
        "mixture of experts (moe) in lower case",  # a short form needs an upper-case letter
        "something (e.g. this) here",
        "a (B) b",  # one letter is not a short form
        "no parentheses at all",
        "",
    ],
)
def test_find_definitions_finds_nothing(text: str) -> None:
    assert find_definitions(text) == []


def test_find_definitions_normalizes_fullwidth_text() -> None:
    assert find_definitions("Ｍｉｘｔｕｒｅ of Experts (ＭｏＥ) layers") == [
        ("MoE", "Mixture of Experts")
    ]


# --- build ----------------------------------------------------------------------------------


def corpus() -> list[Paper]:
    return [
        Paper(
            title="Sparse Mixture-of-Experts at Scale",
            abstract="Sparse Mixture-of-Experts (MoE) models route tokens. MoE layers scale.",
        ),
        Paper(
            title="Routing in Mixture of Experts",
            abstract="We study routers for mixture of experts (MoE) language models.",
        ),
        Paper(
            title="Low-Resource Neural Machine Translation",
            abstract="Neural machine translation (NMT) needs data. Statistical machine "
            "translation (SMT) was earlier.",
            ai_keywords=("machine translation", "low-resource"),
        ),
        Paper(title="A Vision Paper", abstract="Images, images and more images."),
    ]


def test_build_counts_documents_per_stem_and_occurrences_per_word() -> None:
    lex = build(corpus())
    assert lex.n_docs == 4
    assert lex.df[stem("experts")] == 2  # counted once per document
    assert lex.df[stem("images")] == 1
    assert lex.vocab["images"] == 3  # occurrences, folded words
    assert lex.vocab["moe"] == 3
    assert "MoE" not in lex.vocab
    # keywords count too
    assert lex.df[stem("translation")] == 1 and lex.vocab["translation"] == 4


def test_build_learns_acronyms_from_definitions_in_the_archive() -> None:
    lex = build(corpus())
    assert lex.acronyms["moe"] == {key("mixture of experts"): 2}
    assert lex.acronyms["nmt"] == {key("neural machine translation"): 1}
    assert lex.acronyms["smt"] == {key("statistical machine translation"): 1}
    assert lex.spelling(key("mixture of experts")) == "mixture of experts"


def test_build_of_nothing_is_an_empty_lexicon() -> None:
    lex = build([])
    assert lex.n_docs == 0 and not lex.df and not lex.vocab and not lex.acronyms
    assert lex.long_forms("moe") == []


def test_idf_is_higher_for_rarer_stems_and_never_negative() -> None:
    lex = build(corpus())
    assert lex.idf(stem("images")) > lex.idf(stem("experts")) > 0
    assert lex.idf("never-seen") > lex.idf(stem("images"))
    everywhere = Lexicon(n_docs=10, df={"x": 10})
    assert everywhere.idf("x") >= 0


# --- long forms -----------------------------------------------------------------------------


def test_long_forms_keep_dominant_forms_and_drop_stray_definitions() -> None:
    moe, emb, mod = key("mixture of experts"), key("mixture of embeddings"), key("mode estimator")
    lex = Lexicon(acronyms={"moe": {moe: 10, emb: 2, mod: 1}})
    assert lex.long_forms("moe") == [moe, emb]  # 2 * 5 >= 10 kept, 1 * 5 < 10 dropped
    assert lex.long_forms("MoE") == [moe, emb]  # looked up folded
    assert lex.long_forms("ＭｏＥ") == [moe, emb]
    assert lex.long_forms("xyz") == []


def test_long_forms_of_equally_frequent_forms_are_all_kept_in_stable_order() -> None:
    a, b = key("alpha beta"), key("all bets")
    lex = Lexicon(acronyms={"ab": {b: 3, a: 3}})
    assert lex.long_forms("ab") == sorted([a, b])


def test_long_forms_are_learned_not_hard_coded() -> None:
    lex = build([Paper(title="Mixture of Embeddings", abstract="Mixture of Embeddings (MoE).")])
    assert lex.long_forms("moe") == [key("mixture of embeddings")]


def test_short_forms_ending_with_returns_hyponym_acronyms() -> None:
    lex = build(corpus())
    assert lex.short_forms_ending_with(key("machine translation")) == ["nmt", "smt"]
    assert lex.short_forms_ending_with(key("neural machine translation")) == ["nmt"]
    assert lex.short_forms_ending_with(key("mixture of experts")) == ["moe"]
    assert lex.short_forms_ending_with(key("translation systems")) == []


def test_short_forms_ending_with_needs_the_long_form_to_end_with_the_head() -> None:
    lex = build([Paper(title="T", abstract="Machine translation evaluation (MTE) is hard.")])
    assert lex.short_forms_ending_with(key("machine translation")) == []
    assert lex.short_forms_ending_with(key("translation evaluation")) == ["mte"]
