"""Which words of a topic are generic must not depend on how big the archive is.

A new install's first day holds a handful of papers: the archive's own document shares are
noise there, so the lexicon leans on reference word statistics shipped with the package
(wordfreq) and on the archive only as far as its size warrants. The property: a paper a
topic selects in a large archive stays selected when the archive holds only it and two
unrelated papers. Topics and papers here are synthetic (none of the labelled topics)."""

from __future__ import annotations

import pytest

from bot.models import Paper
from bot.pipeline.lexicon import Lexicon, build, reference_share
from bot.pipeline.match import Matcher, topics_profile
from bot.pipeline.query import understand
from bot.pipeline.text import stem

UNRELATED = [
    Paper(
        title="Sparse Cholesky Factorization on GPUs",
        abstract="We accelerate sparse Cholesky factorization with supernodal kernels. "
        "Our solver is faster than vendor libraries on large matrices.",
    ),
    Paper(
        title="A Survey of Urban Traffic Forecasting",
        abstract="We review methods for forecasting urban traffic flow from sensor data. "
        "We compare statistical models and neural predictors on city datasets.",
    ),
]

SUBJECTS = (
    "weather forecasting",
    "robot grasping",
    "tabular data",
    "image segmentation",
    "recommendation",
    "time series",
    "graph partitioning",
    "speech synthesis",
)


def crowd(n: int) -> list[Paper]:
    """A large archive on other subjects, where `learning`, `models` and `networks` are
    everywhere (as in any machine-learning archive)."""
    return [
        Paper(
            title=f"Scalable {SUBJECTS[i % len(SUBJECTS)].title()} Study {i}",
            abstract=f"We present learning models and networks for {SUBJECTS[i % len(SUBJECTS)]}. "
            f"Experiments on benchmark {i} show gains.",
        )
        for i in range(n)
    ]


# (topic as typed, a paper about it that never writes the topic's words in a row)
CASES = [
    (
        "multi-task learning",
        Paper(
            title="One Multi-Task Model for Dialogue and Parsing",
            abstract="We train a single multi-task transformer on dialogue, parsing and "
            "tagging jointly. Multi-task training reduces interference between tasks.",
        ),
    ),
    (
        "graph neural networks",
        Paper(
            title="Graph Neural Message Passing for Molecules",
            abstract="We stack graph neural layers with edge gates. Our graph neural "
            "encoder predicts molecular properties.",
        ),
    ),
    (
        "retrieval augmented generation",
        Paper(
            title="Retrieval-Augmented Question Answering over Manuals",
            abstract="A retrieval-augmented reader answers questions about appliances. "
            "Retrieval-augmented answers cite the manual page.",
        ),
    ),
    (
        "multi-agent reinforcement learning",
        Paper(
            title="Cooperative Multi-Agent Reinforcement with Sparse Rewards",
            abstract="Agents share credit in multi-agent reinforcement settings. Our "
            "multi-agent reinforcement method solves sparse-reward tasks.",
        ),
    ),
]
# Two-word topics whose generic word (`learning`, `models`) is generic in a machine-learning
# archive but not in general English: a tiny archive cannot know it, and the reference
# statistics (general English) cannot either. What remains would be one word, which counts
# only on the archive's evidence. Known limitation, kept visible.
TWO_WORD = [
    (
        "contrastive learning",
        Paper(
            title="Contrastive Pretraining of Molecule Encoders",
            abstract="We pretrain molecule encoders with a contrastive objective over "
            "augmented views. Contrastive pairs come from conformers.",
        ),
    ),
    (
        "diffusion models",
        Paper(
            title="Faster Sampling for Diffusion",
            abstract="Diffusion samplers need many steps. We distil a diffusion sampler "
            "into four steps without quality loss.",
        ),
    ),
]


def selects(topic: str, paper: Paper, archive: list[Paper]) -> bool:
    m = Matcher(archive, build(archive))
    return paper.key in {x.paper.key for x in m.match(topics_profile([topic]))}


def test_a_tiny_archive_selects_the_multi_task_paper() -> None:
    topic, paper = CASES[0]
    assert selects(topic, paper, [paper, *UNRELATED])


@pytest.mark.parametrize(("topic", "paper"), CASES, ids=[c[0] for c in CASES])
def test_selection_does_not_flip_because_the_archive_is_small(topic: str, paper: Paper) -> None:
    assert selects(topic, paper, [paper, *crowd(120)])  # a large archive selects it
    assert selects(topic, paper, [paper, *UNRELATED])  # ... and so does a tiny one


@pytest.mark.xfail(reason="a one-word remainder needs the archive's evidence", strict=True)
@pytest.mark.parametrize(("topic", "paper"), TWO_WORD, ids=[c[0] for c in TWO_WORD])
def test_two_word_topics_still_flip_in_a_tiny_archive(topic: str, paper: Paper) -> None:
    assert selects(topic, paper, [paper, *crowd(120)])
    assert selects(topic, paper, [paper, *UNRELATED])


@pytest.mark.parametrize(("topic", "paper"), CASES + TWO_WORD, ids=[c[0] for c in CASES + TWO_WORD])
def test_the_unrelated_papers_stay_unselected(topic: str, paper: Paper) -> None:
    archive = [paper, *UNRELATED]
    m = Matcher(archive, build(archive))
    assert {x.paper.key for x in m.match(topics_profile([topic]))} <= {paper.key}


def test_a_two_word_topic_is_not_cut_to_a_common_word_in_a_tiny_archive() -> None:
    # `traffic` is in one of three papers: the tiny archive cannot say it is rare
    archive = [*UNRELATED, crowd(1)[0]]
    c = understand("traffic forecasting", build(archive))
    assert all(p.weight == 1 for p in c.phrases)


def test_reference_shares_rank_function_words_above_topic_words() -> None:
    assert reference_share("the") > reference_share("learning") > reference_share("cholesky")
    assert 0.0 <= reference_share("qwxzzy") < 0.001
    assert reference_share("the") <= 1.0


def test_shares_lean_on_the_reference_when_small_and_on_the_archive_when_large() -> None:
    word = "forecasting"
    small = build(UNRELATED[1:])  # one paper, which says it: an archive share of 1.0
    large = build([UNRELATED[1]] * 400 + crowd(400))  # 450 of the 800 papers say it
    assert small.share(word) < 0.6  # one paper is weak evidence against the reference
    assert large.share(word) == pytest.approx(450 / 800, abs=0.01)
    prior = max(reference_share(word), reference_share(stem(word)))
    assert Lexicon().share(word) == pytest.approx(prior, abs=1e-3)


def test_idf_is_finite_and_rarer_is_heavier_in_an_empty_archive() -> None:
    lex = Lexicon()
    assert lex.idf(stem("the")) < lex.idf(stem("cholesky"))


def test_a_real_word_is_known_as_a_compound_head_without_archive_support() -> None:
    # `biomechanical` reads as a kind of `mechanical` though the archive never says it
    lex = build(UNRELATED)
    assert lex.known_words("mechanical")
    assert not lex.known_words("qwxzzy")


def test_a_stopword_left_over_does_not_make_one_word_count_alone() -> None:
    """`mixture of experts` must not become `mixture` (then "Gaussian mixture models" would
    match): a cut that would leave one content word and stopwords is a one-word cut."""
    papers = [
        Paper(title="Gaussian Mixture Models for Clustering", abstract="A mixture of Gaussians."),
        Paper(title="Sparse Mixture of Experts Layers", abstract="Experts route tokens."),
        Paper(title="Protein Folding with Diffusion", abstract="We fold proteins."),
    ]
    matcher = Matcher(papers, build(papers))
    titles = {papers[i].title for i in matcher.selected("mixture of experts")}
    assert titles == {"Sparse Mixture of Experts Layers"}
