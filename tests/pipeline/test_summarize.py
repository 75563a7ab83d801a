"""summarize: the source's own summary, else the contribution sentence, cut at a word."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.pipeline.summarize import (
    CONTRIBUTION_CUE,
    SUMMARY_CHARS,
    contribution_sentence,
    delatex,
    summarize,
)

FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def paper(abstract: str = "", ai_summary: str | None = None) -> Paper:
    return Paper(title="A paper", abstract=abstract, ai_summary=ai_summary)


def test_ai_summary_wins_and_is_whitespace_collapsed() -> None:
    p = paper("We propose X. It is good.", ai_summary="  Routing  experts\n by   load. ")
    assert summarize(p) == "Routing experts by load."


def test_blank_ai_summary_falls_back_to_the_abstract() -> None:
    assert summarize(paper("We propose X.", ai_summary=" \n ")) == "We propose X."


def test_empty_abstract_and_no_ai_summary_give_empty_string() -> None:
    assert summarize(paper("")) == ""
    assert summarize(paper("   \n ")) == ""


@pytest.mark.parametrize(
    "sentence",
    [
        "We propose MoE-X, a router for sparse experts.",
        "Concretely, we introduce a benchmark of 10k tasks.",
        "WE PRESENT a new optimizer.",
        "We also release the code and weights.",
        "We further develop a theory of routing.",
        "Here, we design a curriculum for agents.",
        "This paper presents a unified view of attention.",
        "This work introduces sparse upcycling.",
        "In this paper, we study multi-task learning.",
        "A novel scheduler is proposed for mixture models.",
        "Our main contributions are threefold.",
        "This technical report describes Qwen2.",
    ],
)
def test_contribution_sentence_is_chosen_over_the_first(sentence: str) -> None:
    abstract = f"Large models are expensive to train. {sentence} Results improve by 3 points."
    assert summarize(paper(abstract)) == sentence


def test_first_contribution_sentence_is_preferred() -> None:
    abstract = "Background matters. We propose A. We introduce B."
    assert contribution_sentence(abstract) == "We propose A."


@pytest.mark.parametrize(
    "sentence",
    [
        "Awe introduces nothing here.",  # `we` inside a word
        "The weights present in layers vary.",  # no contribution subject
        "Answers we gather are noisy.",  # `we` without a contribution verb
        "This paperweight presents nothing.",
    ],
)
def test_cue_respects_word_boundaries(sentence: str) -> None:
    assert CONTRIBUTION_CUE.search(sentence) is None


def test_without_a_cue_the_first_sentence_is_used() -> None:
    abstract = "Transformers dominate NLP. Attention is quadratic. It is slow."
    assert summarize(paper(abstract)) == "Transformers dominate NLP."


@pytest.mark.parametrize("label", ["Abstract: ", "abstract:", "TL;DR: ", "Abstract. TL;DR: "])
def test_leading_labels_are_stripped(label: str) -> None:
    assert summarize(paper(f"{label}We propose X.")) == "We propose X."
    assert summarize(paper("", ai_summary=f"{label}Fast routing.")) == "Fast routing."


def test_latex_noise_is_cleaned() -> None:
    abstract = r"We propose \emph{FastMoE}, cutting cost by 30\% with $O(n)$ routing \cite{x}."
    expected = "We propose FastMoE, cutting cost by 30% with O(n) routing."
    assert summarize(paper(abstract)) == expected
    assert delatex(r"A \& B, 2$\times$ faster, ``quoted''") == 'A & B, 2× faster, "quoted"'
    assert delatex("costs $5 and $10 today") == "costs $5 and $10 today"


def test_long_sentence_is_cut_at_a_word_boundary() -> None:
    sentence = "We propose " + " ".join(f"word{i}" for i in range(200)) + "."
    out = summarize(paper(sentence), max_chars=100)
    assert len(out) <= 100 and out.endswith("…")
    assert sentence.startswith(out[:-1])
    assert sentence[len(out) - 1] == " "  # the cut fell between two words


def test_single_overlong_word_is_cut_hard() -> None:
    out = summarize(paper("x" * 500), max_chars=50)
    assert out == "x" * 49 + "…"


def test_five_thousand_character_abstract_without_ai_summary() -> None:
    abstract = " ".join(["Background sentence about models."] * 80) + " We propose " + "y " * 2000
    assert len(abstract) > 5000
    out = summarize(paper(abstract))
    assert out.startswith("We propose") and len(out) <= SUMMARY_CHARS and out.endswith("…")


def test_short_text_is_left_alone() -> None:
    assert summarize(paper("We propose X."), max_chars=13) == "We propose X."


@FAST
@given(
    abstract=st.text(max_size=3000),
    ai=st.one_of(st.none(), st.text(max_size=500)),
    max_chars=st.integers(1, 400),
)
def test_never_raises_and_respects_max_chars(abstract: str, ai: str | None, max_chars: int) -> None:
    out = summarize(paper(abstract, ai), max_chars=max_chars)
    assert len(out) <= max_chars
    assert out == out.strip()


@FAST
@given(
    words=st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=15), min_size=1),
    max_chars=st.integers(2, 120),
)
def test_cut_never_splits_a_word(words: list[str], max_chars: int) -> None:
    out = summarize(paper(" ".join(words) + "."), max_chars=max_chars)
    kept = out.removesuffix("…").removesuffix(".").split()
    if len(kept) == 1 and kept[0] != words[0]:
        # only a first word longer than the room before "…" is cut hard
        assert len(words[0]) > max_chars - 1 and words[0].startswith(kept[0])
        return
    assert kept == words[: len(kept)]
