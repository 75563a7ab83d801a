"""The channel's model in the Matcher (`learned=` of best/match/verdict): without it the
decisions are the same as before; with it, papers it is confident about are added (with a
"feedback:" reason), papers it is confident against are dropped, and best, match and
verdict agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.models import Feedback, Paper, Vote
from bot.pipeline.learn import Influence, Learned, train
from bot.pipeline.lexicon import build
from bot.pipeline.match import Matcher, topics_profile

T0 = datetime(2026, 1, 5, tzinfo=UTC)
FILLER = "We report results on standard benchmarks."


def paper(n: int, title: str, abstract: str) -> Paper:
    return Paper(title=title, abstract=f"{abstract} {FILLER}", arxiv_id=f"2601.{n:05d}")


PAPERS = [
    # about graph coloring, saying so
    paper(0, "Graph coloring with chromatic bounds", "Graph coloring of sparse vertex sets."),
    paper(1, "Fast graph coloring heuristics", "Graph coloring via chromatic vertex orders."),
    paper(2, "Graph coloring for register allocation", "Chromatic vertex coloring of graphs."),
    # about it without the phrase
    paper(3, "Chromatic number bounds for sparse vertex sets", "Chromatic vertex bounds."),
    # a passing mention, about cooking
    paper(4, "Sourdough fermentation kinetics", "Dough yeast fermentation; graph coloring aside."),
    paper(5, "Graph coloring of bread crust patterns", "Sourdough dough yeast crust."),
    # unrelated
    paper(6, "Traffic forecasting on road networks", "Road traffic forecasting."),
    paper(7, "Weather radar nowcasting", "Radar nowcasting of rain."),
    paper(8, "Image denoising with priors", "Denoising images."),
]
PROFILE = topics_profile(["graph coloring"])
CONFIDENT = Influence(add=1.0, drop=1.0, near=False, rank=0.05)


def vote(user: str, p: Paper, v: Vote) -> Feedback:
    return Feedback("slack:C1", user, p.key, v, T0)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(PAPERS, build(PAPERS))


def learned(influence: Influence = CONFIDENT) -> Learned:
    votes = [vote("u1", PAPERS[0], 1), vote("u2", PAPERS[1], 1), vote("u1", PAPERS[4], -1)]
    model = train(votes, {p.key: p for p in PAPERS}, PAPERS, influence=influence)
    assert model is not None
    return model


def keys(matches: list) -> list[str]:  # type: ignore[type-arg]
    return [m.paper.key for m in matches]


def test_without_a_model_nothing_changes(matcher: Matcher) -> None:
    assert matcher.match(PROFILE) == matcher.match(PROFILE, None)
    assert matcher.best(PROFILE, limit=0) == matcher.best(PROFILE, limit=0, learned=None)
    for i in range(len(PAPERS)):
        assert matcher.verdict(PROFILE, i) == matcher.verdict(PROFILE, i, None)


def test_the_model_adds_a_paper_it_is_confident_about(matcher: Matcher) -> None:
    plain = keys(matcher.match(PROFILE))
    model = learned()
    assert PAPERS[3].key not in plain
    assert model.score(PAPERS[3]) >= CONFIDENT.add
    found = matcher.match(PROFILE, model)
    added = [m for m in found if m.paper.key == PAPERS[3].key]
    assert added and added[0].topics == ("feedback",)
    assert added[0].reasons[0].startswith("feedback: like '")


def test_the_model_drops_a_paper_it_is_confident_against(matcher: Matcher) -> None:
    model = learned()
    plain = keys(matcher.match(PROFILE))
    assert PAPERS[5].key in plain
    assert model.score(PAPERS[5]) <= -CONFIDENT.drop
    assert PAPERS[5].key not in keys(matcher.match(PROFILE, model))
    v = matcher.verdict(PROFILE, 5, model)
    assert not v.matched and any(r.startswith("feedback:") for r in v.reasons)


def test_kept_matches_carry_the_models_reason_and_rank(matcher: Matcher) -> None:
    model = learned()
    found = matcher.match(PROFILE, model)
    kept = [m for m in found if m.paper.key == PAPERS[2].key]
    assert kept and any(r.startswith("feedback:") for r in kept[0].reasons)
    scores = [m.score for m in found]
    assert scores == sorted(scores, reverse=True)


def test_a_timid_model_changes_only_the_order(matcher: Matcher) -> None:
    timid = learned(Influence(add=1e9, drop=1e9, near=False, rank=0.05))
    assert set(keys(matcher.match(PROFILE, timid))) == set(keys(matcher.match(PROFILE)))


def test_near_adds_only_papers_with_some_evidence(matcher: Matcher) -> None:
    near = learned(Influence(add=1.0, drop=1.0, near=True, rank=0.05))
    evidence = matcher.topic_evidence("graph coloring")
    plain = set(keys(matcher.match(PROFILE)))
    for m in matcher.match(PROFILE, near):
        if m.paper.key not in plain:
            assert matcher.index_of(m.paper.key) in evidence


def test_best_verdict_and_match_agree(matcher: Matcher) -> None:
    model = learned()
    everything = matcher.match(PROFILE, model)
    best, total = matcher.best(PROFILE, limit=0, learned=model)
    assert best == everything and total == len(everything)
    chosen = set(keys(everything))
    for i, p in enumerate(PAPERS):
        assert matcher.verdict(PROFILE, i, model).matched == (p.key in chosen)
    top, total = matcher.best(PROFILE, limit=1, drop=[frozenset({0})], learned=model)
    rest = [m for m in everything if m.paper.key != PAPERS[0].key]
    assert top == rest[:1] and total == len(rest)


def test_exclusions_hold_against_the_model(matcher: Matcher) -> None:
    profile = topics_profile(["graph coloring"], exclude=["chromatic number"])
    found = keys(matcher.match(profile, learned()))
    assert PAPERS[3].key not in found
