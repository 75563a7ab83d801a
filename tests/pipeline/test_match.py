"""match: is a paper *about* a subscription, and why — one rule per test, synthetic papers.

Every archive here is a few topic papers plus ~60 filler papers on unrelated subjects, so
the lexicon's document shares (generic-word trimming) and pseudo-relevance feedback engage
as they do on a real archive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

import bot.pipeline.match as match_module
from bot.models import Paper, Profile
from bot.pipeline.evidence import THRESHOLD
from bot.pipeline.field import Field
from bot.pipeline.lexicon import Lexicon, build
from bot.pipeline.match import Matcher, topics_profile
from bot.pipeline.matches import Match, rank_key
from bot.pipeline.query import Concept
from bot.pipeline.query import understand as real_understand

SUBJECTS = (
    "graph partitioning",
    "weather forecasting",
    "protein folding",
    "robot grasping",
    "tabular data",
    "image segmentation",
    "recommendation",
    "time series",
    "federated optimization",
    "point clouds",
    "object tracking",
    "causal discovery",
)


def filler(n: int = 60) -> list[Paper]:
    """Papers on unrelated subjects that share generic words (`learning`, `model`)."""
    out = []
    for i in range(n):
        subject = SUBJECTS[i % len(SUBJECTS)]
        out.append(
            Paper(
                title=f"Scalable {subject.title()} Study {i}",
                arxiv_id=f"2401.{i:05d}",
                abstract=f"We present a learning framework for {subject}. Experiments on "
                f"benchmark {i} show consistent gains. The model is trained with standard "
                "learning objectives.",
            )
        )
    return out


def defines_moe(n: int = 3) -> list[Paper]:
    """Papers that define MoE, so the archive can teach the acronym."""
    return [
        Paper(
            title=f"Sparse Language Models {k}",
            abstract="We train sparse Mixture-of-Experts (MoE) language models. "
            "Each MoE layer routes tokens to a few experts.",
        )
        for k in range(n)
    ]


def archive(*papers: Paper, background: Sequence[Paper] = ()) -> Matcher:
    """A matcher over `papers` + `background` + filler, with the lexicon of all of them."""
    everything = [*papers, *background, *filler()]
    return Matcher(everything, build(everything))


def profile(*topics: str, exclude: Sequence[str] = (), authors: Sequence[str] = ()) -> Profile:
    return Profile(
        platform="console",
        channel_id="test",
        topics=topics,
        exclude=tuple(exclude),
        authors=tuple(authors),
    )


def titles(m: Matcher, *topics: str, exclude: Sequence[str] = ()) -> list[str]:
    return [x.paper.title for x in m.match(topics_profile(topics, exclude))]


def is_match(m: Matcher, paper: Paper, *topics: str) -> bool:
    i = m.index_of(paper.key)
    assert i is not None
    return m.verdict(profile(*topics), i).matched


def reasons(m: Matcher, paper: Paper, *topics: str) -> tuple[str, ...]:
    i = m.index_of(paper.key)
    assert i is not None
    return m.verdict(profile(*topics), i).reasons


MOE_TITLE = Paper(
    title="Upcycling Dense Checkpoints into Mixture-of-Experts Models",
    abstract="We convert dense checkpoints without forgetting.",
)
MOE_ACRONYM_TITLE = Paper(
    title="MoE-Lite: Distilling Conditional Computation",
    abstract="A small router sends each token to two experts on the phone.",
)
MOE_ACRONYM_ONLY = Paper(
    title="MoE-Tiny: Phone-Sized Language Models",
    abstract="We distill large language models into phones.",
)
MOEBIUS = Paper(
    title="Moebius Convolutions for Omnidirectional Images",
    abstract="We propose Moebius convolutions, equivariant to Moebius transformations.",
)
EXPERT_LEVEL = Paper(
    title="Beyond Expert-Level: A Benchmark Curated by 200 Domain Experts",
    abstract="Claims of expert-level performance are common. Human experts wrote a "
    "mixture of problems. Every problem was reviewed by two further experts.",
)


# --- acronyms both ways ---------------------------------------------------------------------


def test_acronym_subscription_matches_the_long_form() -> None:
    m = archive(MOE_TITLE, background=defines_moe())
    assert is_match(m, MOE_TITLE, "moe")
    assert reasons(m, MOE_TITLE, "moe") == ("title: 'mixture of experts'",)


def test_long_form_subscription_matches_the_acronym() -> None:
    m = archive(MOE_ACRONYM_TITLE, background=defines_moe())
    assert is_match(m, MOE_ACRONYM_TITLE, "mixture of experts")
    assert "title: 'moe'" in reasons(m, MOE_ACRONYM_TITLE, "mixture of experts")


def test_typed_acronym_counts_even_without_the_topic_words() -> None:
    m = archive(MOE_ACRONYM_ONLY, background=defines_moe())
    assert is_match(m, MOE_ACRONYM_ONLY, "moe")


def test_learned_acronym_needs_a_word_of_the_topic_in_the_paper() -> None:
    # typed `mixture of experts`: a bare `MoE` with no expert/mixture anywhere is ambiguous
    m = archive(MOE_ACRONYM_ONLY, background=defines_moe())
    assert not is_match(m, MOE_ACRONYM_ONLY, "mixture of experts")


def test_acronym_defined_as_something_else_in_the_paper_does_not_count() -> None:
    embeddings = Paper(
        title="Mixture of Embeddings for Dense Retrieval",
        abstract="We propose Mixture of Embeddings (MoE), a retrieval trick. MoE improves "
        "recall. MoE is cheap.",
    )
    experts = defines_moe(6)
    m = archive(embeddings, background=experts)
    assert not is_match(m, embeddings, "moe")
    assert m.index_of(embeddings.key) not in m.topic_evidence("moe")
    assert sorted(titles(m, "moe")) == sorted(p.title for p in experts)


def test_without_a_definition_in_the_archive_moe_is_only_the_word_moe() -> None:
    # nothing hard-coded: no archive paper says "Mixture-of-Experts (MoE)"
    m = archive(MOE_TITLE, MOE_ACRONYM_ONLY)
    assert titles(m, "moe") == [MOE_ACRONYM_ONLY.title]


# --- word boundaries ------------------------------------------------------------------------


def test_moe_never_matches_moebius_or_human_experts() -> None:
    m = archive(MOEBIUS, EXPERT_LEVEL, MOE_TITLE, background=defines_moe())
    selected = titles(m, "moe")
    assert MOE_TITLE.title in selected
    assert MOEBIUS.title not in selected
    assert EXPERT_LEVEL.title not in selected
    assert not is_match(m, EXPERT_LEVEL, "mixture of experts")


CODEGEN = Paper(
    title="Tests as Rewards: Reinforcement Learning for Code Generation",
    abstract="We train models to generate code that passes self-generated unit tests.",
)
ENCODER_DECODER = Paper(
    title="Encoder-Decoder Generation of Image Captions",
    abstract="An encoder reads the image and a decoder generates a caption. Generation is "
    "fast. We release our code.",
)
DECODING = Paper(
    title="Decoding Strategies for Open-Ended Text Generation",
    abstract="We decode text with nucleus sampling from an encoder-decoder model.",
)


def test_code_generation_never_matches_encoder_decoder_or_released_code() -> None:
    m = archive(CODEGEN, ENCODER_DECODER, DECODING)
    assert titles(m, "code generation") == [CODEGEN.title]


def test_code_is_not_inside_encoder_or_decoder() -> None:
    m = archive(CODEGEN, DECODING)
    i = m.index_of(DECODING.key)
    assert i is not None
    assert i not in m.topic_evidence("code")
    assert i not in m.topic_evidence("coder")  # nor `coder`, a word of its own
    assert m.index_of(CODEGEN.key) in m.topic_evidence("code")


# --- spelling variants, plurals, inflections, case, Unicode ---------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Multitask Learning for Dense Prediction",
        "Multi Task Learning for Dense Prediction",
        "Multi-Task Learning for Dense Prediction",
        "MULTI-TASK LEARNING FOR DENSE PREDICTION",
        "Multi-Task Learners for Dense Prediction",
    ],
)
@pytest.mark.parametrize(
    "typed", ["multi-task learning", "multitask learning", "Multi Task Learning"]
)
def test_compound_spelling_variants_match_each_other(title: str, typed: str) -> None:
    paper = Paper(title=title, abstract="We share an encoder across heads.")
    # the archive writes every variant somewhere
    seen = Paper(title="Multitask and multi-task", abstract="Multitask, multi task, multi-task.")
    m = archive(paper, seen)
    assert is_match(m, paper, typed)


@pytest.mark.parametrize(
    ("topic", "title"),
    [
        ("spelling correction", "Spelling Corrections for Search Queries"),
        ("spelling corrections", "Spelling Correction for Search Queries"),
        ("spelling correction", "Correcting Spelling in Search Queries"),
        ("code generation", "Generating Code from Natural Language"),
        ("machine translation", "Machine Translating Low-Resource Languages"),
        ("mixtures of experts", "Sparse Mixture-of-Experts Routing"),
        ("speech", "Speeches and Talks: A Dataset"),
    ],
)
def test_plurals_and_inflections_match(topic: str, title: str) -> None:
    paper = Paper(title=title, abstract="We collect data and train a model.")
    m = archive(paper)
    assert is_match(m, paper, topic)


def defines_llm(n: int = 3) -> list[Paper]:
    return [
        Paper(
            title=f"Evaluating Assistants {k}",
            abstract="Large language models (LLMs) answer questions. We score LLMs.",
        )
        for k in range(n)
    ]


@pytest.mark.parametrize("typed", ["llm", "LLMs"])
def test_plural_acronyms_match_the_singular_and_back(typed: str) -> None:
    """`LLMs` is the plural of `LLM` (an acronym has no vowel before its plural `s`)."""
    plural = Paper(title="Scaling LLMs to Long Contexts", abstract="They forget the middle.")
    singular = Paper(title="An LLM Judge for Essays", abstract="It grades essays.")
    m = archive(plural, singular, background=defines_llm())
    assert is_match(m, plural, typed)
    assert is_match(m, singular, typed)


@pytest.mark.parametrize(
    ("topic", "title"),
    [
        ("moe", "Ｍｉｘｔｕｒｅ-ｏｆ-Ｅｘｐｅｒｔｓ ａｔ Ｓｃａｌｅ"),
        ("ＭｏＥ", "Sparse Mixture-of-Experts at Scale"),
        ("MOE", "sparse mixture-of-experts at scale"),
        ("speech", "ＳＰＥＥＣＨ Ｒｅｃｏｇｎｉｔｉｏｎ ｉｎ ｔｈｅ Ｗｉｌｄ"),
        ("Speech", "Reconnaissance de la Speech: modèles à l'écoute"),
        ("médical", "Medical Report Generation"),
    ],
)
def test_case_and_unicode_do_not_matter(topic: str, title: str) -> None:
    paper = Paper(title=title, abstract="We study it.")
    m = archive(paper, background=defines_moe())
    assert is_match(m, paper, topic)


# --- typos in the subscription --------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["mixture of experst", "mixtrue of experts", "mixture of exprets"]
)
def test_a_typo_in_the_subscription_is_repaired(typed: str) -> None:
    m = archive(MOE_TITLE, MOEBIUS, background=defines_moe())
    selected = titles(m, typed)
    assert MOE_TITLE.title in selected
    assert MOEBIUS.title not in selected
    assert any(n.startswith("read '") for n in m.concept(typed).notes)


# --- words apart ----------------------------------------------------------------------------


def test_topic_words_apart_in_the_title_match() -> None:
    paper = Paper(title="Correcting Spelling Errors in Clinical Notes", abstract="We fix notes.")
    m = archive(paper)
    assert is_match(m, paper, "spelling correction")
    assert reasons(m, paper, "spelling correction") == ("title: 'spell' + 'correct'",)


def test_topic_words_together_in_abstract_sentences_match() -> None:
    paper = Paper(
        title="Robust Tokenizers",
        abstract="We correct misspelled words and the spelling of names. Spelling errors are "
        "corrected by a small model. Correcting spelling also improves parsing.",
    )
    m = archive(paper)
    assert is_match(m, paper, "spelling correction")
    assert any("together in" in r for r in reasons(m, paper, "spelling correction"))


def test_topic_words_in_different_sentences_do_not_match() -> None:
    paper = Paper(
        title="Spelling Bees for Language Models",
        abstract="Language models play word games. Scores improve after a correction of the "
        "rules. Corrections were rare.",
    )
    m = archive(paper)
    assert not is_match(m, paper, "spelling correction")


def test_a_generic_word_can_be_missing_from_a_multiword_topic() -> None:
    # `learning` is everywhere in the archive: `multi-task` alone carries the topic
    paper = Paper(
        title="Multi-Task Dense Prediction with Shared Decoders",
        abstract="One network predicts depth and normals.",
    )
    m = archive(paper)
    assert is_match(m, paper, "multi-task learning")
    assert reasons(m, paper, "multi-task learning") == ("title: 'multi task'",)


# --- passing mentions -----------------------------------------------------------------------


def test_part_of_speech_is_not_speech() -> None:
    pos = Paper(
        title="Part-of-Speech Tagging for Low-Resource Languages",
        abstract="We tag part-of-speech labels with a small tagger.",
    )
    asr = Paper(title="Streaming Speech Recognition", abstract="We transcribe audio.")
    m = archive(pos, asr)
    assert titles(m, "speech") == [asr.title]


def test_a_single_passing_mention_in_the_abstract_is_not_a_match() -> None:
    """THRESHOLD's contract: 'the title, or two abstract mentions'; one aside is not enough."""
    vision = Paper(
        title="Vision Transformers for Satellite Images",
        abstract="Unlike speech, images are two dimensional. We tile satellite images.",
    )
    vision_code = Paper(
        title="Dense Captioning of Satellite Images",
        abstract="Beyond code generation, captioning needs grounding. We ground captions.",
    )
    m = archive(vision, vision_code, ENCODER_DECODER)
    assert not is_match(m, vision, "speech")
    assert not is_match(m, vision_code, "code generation")
    assert not is_match(m, ENCODER_DECODER, "code")  # "We release our code."


def test_two_abstract_mentions_are_a_match() -> None:
    paper = Paper(
        title="Audio Models at Scale",
        abstract="We study speech recognition. Speech data is scarce for most languages.",
    )
    m = archive(paper)
    assert is_match(m, paper, "speech")
    assert reasons(m, paper, "speech") == ("abstract: 2× 'speech'",)


# --- title over abstract --------------------------------------------------------------------


def test_title_evidence_ranks_above_abstract_evidence() -> None:
    in_title = Paper(
        title="Streaming Speech Recognition on Phones",
        abstract="We transcribe audio on device.",
        arxiv_id="2402.00001",
    )
    in_abstract = Paper(
        title="Small Models on Phones",
        abstract="We run speech recognition. Speech runs on device.",
        arxiv_id="2402.00002",
        upvotes=500,  # popularity does not outrank evidence
    )
    m = archive(in_title, in_abstract)
    assert titles(m, "speech") == [in_title.title, in_abstract.title]


def test_repeating_the_topic_in_the_abstract_cannot_outweigh_the_title() -> None:
    """W_TITLE's contract: each abstract mention adds less, up to a cap, so repetition
    cannot outweigh the title."""
    in_title = Paper(
        title="Streaming Speech Recognition on Phones",
        abstract="We transcribe audio on device.",
    )
    repeated = Paper(
        title="Small Models on Phones",
        abstract="Speech models are large. Speech data is scarce. We compress speech "
        "encoders. Speech latency drops. Speech quality holds.",
    )
    m = archive(in_title, repeated)
    assert titles(m, "speech") == [in_title.title, repeated.title]


# --- exclusions and authors -----------------------------------------------------------------


def test_exclusion_removes_a_matched_paper_and_says_which_term() -> None:
    survey = Paper(
        title="A Survey of Mixture-of-Experts Models",
        abstract="We review routers and load balancing.",
    )
    m = archive(survey, MOE_TITLE, background=defines_moe())
    assert survey.title in titles(m, "moe")
    selected = titles(m, "moe", exclude=["benchmarks", "survey"])
    assert survey.title not in selected and MOE_TITLE.title in selected
    i = m.index_of(survey.key)
    assert i is not None
    v = m.verdict(profile("moe", exclude=["benchmarks", "Survey"]), i)
    assert not v.matched
    assert v.excluded_by == "Survey"
    assert v.topics == ("moe",)  # the match is still explained


def test_exclusion_does_not_touch_papers_without_the_term() -> None:
    m = archive(MOE_TITLE, background=defines_moe())
    i = m.index_of(MOE_TITLE.key)
    assert i is not None
    v = m.verdict(profile("moe", exclude=["survey"]), i)
    assert v.matched and v.excluded_by is None


@pytest.mark.parametrize("wanted", ["zoe unal", "Zoë Ünal", "ZOE UNAL", "Unal Zoe"])
def test_author_subscription_ignores_accents_case_and_order(wanted: str) -> None:
    hers = Paper(title="Some Paper on Graphs", authors=("B. Smith", "Zoë Ünal"))
    also_hers = Paper(title="Another Paper", authors=("ÜNAL, Zoë",))
    not_hers = Paper(title="Third Paper", authors=("Zoe Unger",))
    m = archive(hers, also_hers, not_hers)
    got = m.match(profile(authors=[wanted]))
    assert {x.paper.title for x in got} == {hers.title, also_hers.title}
    assert all(x.reasons == (f"author: {wanted}",) for x in got)


def test_authors_and_topics_combine() -> None:
    hers = Paper(title="Graph Coloring", authors=("Zoë Ünal",))
    m = archive(hers, MOE_TITLE, background=defines_moe())
    got = {x.paper.title for x in m.match(profile("moe", authors=["zoe unal"]))}
    assert {hers.title, MOE_TITLE.title} <= got
    assert MOEBIUS.title not in got


# --- reasons --------------------------------------------------------------------------------


def test_reasons_name_where_the_words_matched() -> None:
    paper = Paper(
        title="Sparse Mixture-of-Experts Routing",
        abstract="Our MoE routes tokens. Experts specialize in a mixture of experts model.",
        ai_keywords=("mixture of experts", "routing"),
    )
    m = archive(paper, background=defines_moe())
    why = reasons(m, paper, "moe")
    assert why[0] == "title: 'mixture of experts'"
    assert "keywords: 'mixture of experts'" in why
    abstract = [r for r in why if r.startswith("abstract: 2× ")]
    assert len(abstract) == 1
    assert "'moe'" in abstract[0] and "'mixture of experts'" in abstract[0]


def test_keywords_alone_are_evidence() -> None:
    paper = Paper(title="Efficient Inference", abstract="We serve models.", ai_keywords=("speech",))
    m = archive(paper)
    assert is_match(m, paper, "speech")
    assert reasons(m, paper, "speech") == ("keywords: 'speech'",)


def test_reasons_are_prefixed_by_the_topic_when_a_profile_has_several() -> None:
    m = archive(MOE_TITLE, background=defines_moe())
    why = reasons(m, MOE_TITLE, "moe", "speech")
    assert why == ("moe: title: 'mixture of experts'",)


def test_a_verdict_for_an_unmatched_paper_explains_nothing_matched() -> None:
    m = archive(MOEBIUS, background=defines_moe())
    i = m.index_of(MOEBIUS.key)
    assert i is not None
    v = m.verdict(profile("moe", "speech"), i)
    assert not v.matched and v.topics == () and v.reasons == () and v.excluded_by is None
    assert v.score < 0.5


# --- pseudo-relevance feedback --------------------------------------------------------------


def test_words_of_clearly_matching_papers_lift_a_weak_mention() -> None:
    seeds = [
        Paper(
            title=f"Multi-Task Learning with Gradient Surgery {k}",
            abstract="Task interference arises from gradient conflicts. We project "
            "conflicting gradients to reduce interference.",
        )
        for k in range(4)
    ]
    related = Paper(
        title="Shared Encoders",
        abstract="A multitask encoder is trained. Gradient conflicts cause interference "
        "between objectives.",
    )
    unrelated = Paper(
        title="Shared Decoders",
        abstract="A multitask decoder is trained. We report accuracy on images.",
    )
    m = archive(*seeds, related, unrelated)
    assert is_match(m, related, "multi-task learning")
    assert not is_match(m, unrelated, "multi-task learning")
    assert any(r.startswith("related words:") for r in reasons(m, related, "multi-task learning"))


# --- performance by design ------------------------------------------------------------------


def test_each_distinct_topic_is_understood_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(text: str, lex: Lexicon) -> Concept:
        calls.append(text)
        return real_understand(text, lex)

    monkeypatch.setattr(match_module, "understand", counting)
    m = archive(MOE_TITLE, background=defines_moe())
    spellings = {
        "moe": ["moe", "MoE", " moe "],
        "speech": ["speech"],
        "mtl": ["multi-task learning"],
    }
    flat = [s for group in spellings.values() for s in group]
    profiles = [
        profile(flat[i % len(flat)], flat[(i + 1) % len(flat)], exclude=["speech"])
        for i in range(100)
    ]
    for p in profiles:
        m.match(p)
        for i in range(5):
            m.verdict(p, i)
    assert len(calls) == 3
    assert m.topic_evidence("MOE") is m.topic_evidence("moe")


def test_papers_are_indexed_once_when_the_matcher_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers = [MOE_TITLE, *defines_moe(), *filler()]
    lex = build(papers)
    analysed: list[str] = []
    real_of = Field.of

    def counting_of(text: str, known: Callable[[str], bool] | None = None) -> Field:
        analysed.append(text)
        return real_of(text, known)

    monkeypatch.setattr(Field, "of", staticmethod(counting_of))
    m = Matcher(papers, lex)
    built = len(analysed)
    assert built == 2 * len(papers)  # title and abstract of each, no keywords here
    for topic in ("moe", "speech", "code generation", "multi-task learning"):
        m.match(profile(topic))
    assert len(analysed) == built


# --- ranking --------------------------------------------------------------------------------


def _m(key: str, score: float, upvotes: int | None = None, day: int | None = None) -> Match:
    published = datetime(2024, 5, day, tzinfo=UTC) if day else None
    paper = Paper(title=f"Paper {key}", arxiv_id=key, upvotes=upvotes, published=published)
    return Match(paper, score, ("t",), ())


def test_rank_key_orders_by_score_then_upvotes_then_recency_then_key() -> None:
    ms = [
        _m("2405.00005", 0.7, upvotes=1, day=1),
        _m("2405.00004", 0.7, upvotes=1, day=3),
        _m("2405.00003", 0.7, upvotes=9, day=1),
        _m("2405.00002", 0.9, upvotes=None, day=None),
        _m("2405.00006", 0.7, upvotes=1, day=3),
        _m("2405.00001", 0.5, upvotes=99, day=9),
    ]
    order = [x.paper.arxiv_id for x in sorted(ms, key=rank_key)]
    assert order == [
        "2405.00002",  # best score
        "2405.00003",  # then most upvotes
        "2405.00004",  # then newest
        "2405.00006",  # then key
        "2405.00005",
        "2405.00001",  # popularity does not beat score
    ]


def test_match_results_are_ordered_by_rank_key() -> None:
    same = "Sparse Mixture-of-Experts Routing {}"
    a = Paper(title=same.format("A"), arxiv_id="2403.00001", upvotes=3)
    b = Paper(title=same.format("B"), arxiv_id="2403.00002", upvotes=30)
    c = Paper(
        title=same.format("C"),
        arxiv_id="2403.00003",
        upvotes=3,
        published=datetime(2024, 3, 2, tzinfo=UTC),
    )
    d = Paper(
        title="Mixture-of-Experts Inference",
        abstract="Mixture-of-Experts (MoE) serving. MoE routing. Our MoE system.",
        arxiv_id="2403.00004",
    )
    m = archive(a, b, c, d, background=defines_moe())
    got = m.match(profile("moe"))
    assert got == sorted(got, key=rank_key)
    order = [
        x.paper.arxiv_id
        for x in got
        if x.paper.arxiv_id in {"2403.00001", "2403.00002", "2403.00003", "2403.00004"}
    ]
    assert order == ["2403.00004", "2403.00002", "2403.00003", "2403.00001"]
    assert all(0.5 <= x.score < 1 for x in got)


# --- degenerate input -----------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["", "🙂", "!!!", "   "])
def test_empty_topics_match_nothing_and_do_not_raise(topic: str) -> None:
    m = archive(MOE_TITLE, background=defines_moe())
    assert m.match(profile(topic)) == []
    assert m.topic_evidence(topic) == {}


def test_a_matcher_over_no_papers_matches_nothing() -> None:
    m = Matcher([], build([]))
    assert m.match(profile("moe", authors=["zoe unal"])) == []
    assert m.index_of("2401.00001") is None


def test_evidence_score_maps_the_threshold_to_one_half() -> None:
    ev = match_module.Evidence(THRESHOLD, ("x",))
    assert ev.score == pytest.approx(0.5)
    assert match_module.Evidence(0.0, ()).score == 0.0
