"""text: folding, words, stems, sentences, and the analysed `Field` the matcher searches."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.pipeline.field import HYPONYM_PREFIXES, Field, head_word
from bot.pipeline.text import (
    fold,
    is_content,
    sentences,
    stem,
    stems,
    surface_words,
    words,
)


def known_words(*vocab: str) -> Callable[[str], bool]:
    """A `known` predicate over a small vocabulary."""
    allowed = frozenset(vocab)
    return lambda w: w in allowed


def always_known(_: str) -> bool:
    return True


# --- fold / words / stems -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("MoE", "moe"),
        ("Zoë Ünal", "zoe unal"),
        ("Ｍｉｘｔｕｒｅ", "mixture"),  # fullwidth letters (NFKC)
        ("ﬁne-tuning", "fine-tuning"),  # ligature
        ("Straße", "strasse"),  # casefold, not lower
        ("Modèles", "modeles"),
    ],
)
def test_fold_normalizes_case_width_and_accents(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_words_split_on_hyphens_and_punctuation_but_keep_apostrophes_and_decimals() -> None:
    assert words("Mixture-of-Experts (MoE)") == ["mixture", "of", "experts", "moe"]
    assert words("We don't scale 2.5x; GPT-4o/LLaMA_2") == [
        "we",
        "don't",
        "scale",
        "2.5",
        "x",
        "gpt",
        "4o",
        "llama",
        "2",
    ]
    assert words("") == []
    assert words("🙂 !!! — …") == []


def test_words_fold_unicode_so_fullwidth_and_accents_compare_equal() -> None:
    assert words("ＭｏＥ Ünal") == words("moe unal") == ["moe", "unal"]


def test_surface_words_keep_case_for_acronym_detection() -> None:
    assert surface_words("Large LLMs (MoE-based)") == ["Large", "LLMs", "MoE", "based"]


def test_stems_merge_plurals_and_inflections() -> None:
    assert stems("Experts routing routed") == ["expert", "rout", "rout"]
    assert stem("experts") == stem("expert")
    assert stem("corrections") == stem("correcting") == stem("correction")
    assert stem("models") == stem("model")
    assert stems("Translating translations") == ["translat", "translat"]


def test_short_words_and_non_alphabetic_words_are_not_stemmed() -> None:
    # `moe` and `llms` must never be shortened into something else
    assert stem("moe") == "moe"
    assert stem("gpt4") == "gpt4"
    assert stem("2.5") == "2.5"


def test_sentences_split_on_end_punctuation_before_a_capital_or_digit() -> None:
    text = "We propose X. It works! 3 results follow, e.g. this one. (Also) fine?  Done."
    assert sentences(text) == [
        "We propose X.",
        "It works!",
        "3 results follow, e.g. this one.",
        "(Also) fine?",
        "Done.",
    ]
    assert sentences("") == []
    assert sentences("   ") == []


def test_is_content_rejects_stopwords_and_single_letters() -> None:
    assert not is_content("the")
    assert not is_content("of")
    assert not is_content("x")
    assert is_content("moe")
    assert is_content("speech")


# --- Field.of: alternatives (heads of prefixed compounds) -----------------------------------


def test_field_records_stems_and_sentence_numbers() -> None:
    f = Field.of("Experts route tokens. Routers learn.")
    assert f.stems == ("expert", "rout", "token", "router", "learn")
    assert f.sentence_of == (0, 0, 0, 1, 1)


def test_empty_field_has_no_stems() -> None:
    f = Field.of("")
    assert f.stems == () and f.sentence_of == () and not f.alts and not f.bound


def test_prefixed_compound_gets_its_head_as_an_alternative_when_known() -> None:
    f = Field.of("Biomedical multitask pretraining", known_words("medical", "task", "training"))
    assert f.stems == ("biomed", "multitask", "pretrain")
    assert f.alts == {0: stem("medical"), 1: stem("task"), 2: stem("training")}
    assert f.at(0, stem("medical")) and f.at(0, "biomed")
    assert not f.at(0, stem("bio"))


def test_no_alternative_when_the_head_is_not_a_known_word() -> None:
    assert Field.of("Biomedical imaging", known_words("imaging")).alts == {}
    assert Field.of("Biomedical imaging").alts == {}  # no `known`: no alternatives at all


def test_head_word_needs_enough_letters_after_the_prefix() -> None:
    assert head_word("biomedical", known_words("medical")) == "medical"
    assert head_word("multitask", known_words("task")) == "task"
    assert head_word("preach", always_known) is None  # `ach` is too short to be a head
    assert head_word("bio", always_known) is None


# --- X-of-Y binding -------------------------------------------------------------------------


def test_x_of_y_binds_the_words_after_of_to_the_head() -> None:
    f = Field.of("We tag part-of-speech labels.")
    i_part, i_speech = f.stems.index("part"), f.stems.index("speech")
    assert f.bound == {i_speech: i_part}


def test_x_of_y_binding_covers_every_word_after_of() -> None:
    f = Field.of("A state-of-the-art model.")
    state = f.stems.index("state")
    assert f.bound == {f.stems.index("the"): state, f.stems.index("art"): state}


def test_mixture_of_experts_binds_experts_to_mixture_so_the_phrase_is_whole() -> None:
    f = Field.of("Sparse Mixture-of-Experts layers")
    mixture, experts = f.stems.index("mixtur"), f.stems.index("expert")
    assert f.bound == {experts: mixture}
    # the whole phrase starts at the head, so a phrase covering the head is not blocked
    span = range(mixture, experts + 1)
    assert all(f.bound.get(i, mixture) in span for i in span)


def test_of_without_hyphens_binds_nothing() -> None:
    assert Field.of("The part of speech tagger").bound == {}
    assert Field.of("A mixture of experts").bound == {}


def test_hyphen_chains_without_of_bind_nothing() -> None:
    assert Field.of("text-to-speech and speech-to-text models").bound == {}


def test_only_the_speech_inside_the_unit_is_bound() -> None:
    f = Field.of("A part-of-speech tagger. Speech synthesis is separate.")
    first, second = (i for i, s in enumerate(f.stems) if s == "speech")
    assert f.bound == {first: f.stems.index("part")}
    assert second not in f.bound


# --- HYPONYM prefixes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "negating", ["de", "un", "non", "re", "dis", "anti", "in", "im", "counter", "mis"]
)
def test_no_negating_or_reversing_prefix_is_a_hyponym_prefix(negating: str) -> None:
    assert negating not in HYPONYM_PREFIXES


@pytest.mark.parametrize(
    "word",
    ["decode", "decoder", "recode", "uncoded", "nonmedical", "unsupervised", "antispeech"],
)
def test_negated_or_reversed_words_never_yield_their_base(word: str) -> None:
    assert head_word(word, always_known) is None


def test_decode_is_never_code_in_a_field() -> None:
    f = Field.of("We decode and recode the encoder outputs.", always_known)
    assert "code" not in f.stems
    assert "code" not in f.alts.values()


def test_stemming_from_many_threads_at_once_is_safe() -> None:
    """Searches and digests stem in worker threads concurrently (a shared Snowball stemmer
    raised IndexError)."""
    import random
    import string
    from concurrent.futures import ThreadPoolExecutor

    from bot.pipeline import text

    rng = random.Random(7)
    batches = [
        [
            "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 14))) + "ations"
            for _ in range(3000)
        ]
        for _ in range(8)
    ]
    text.stem.cache_clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda ws: [text.stem(w) for w in ws], batches))
    text.stem.cache_clear()
    alone = [[text.stem(w) for w in ws] for ws in batches]
    assert together == alone
