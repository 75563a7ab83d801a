"""The channel's model in the Matcher (`learned=` of best/match/verdict, and `unsure`):
without it the decisions are the same as before; with it, the channel's votes move the
decision threshold on the topic evidence (a channel that says "more" to borderline papers
gets more of them, one that says "not for us" gets none), nearness to liked or disliked
papers tips borderline ones, a vote or two change nothing, and best, match and verdict
agree. `unsure` lists the borderline papers to ask about."""

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
    # about graph coloring, saying so (selected)
    paper(0, "Graph coloring with chromatic bounds", "Graph coloring of sparse vertex sets."),
    paper(1, "Fast graph coloring heuristics", "Graph coloring via chromatic vertex orders."),
    # about it, the phrase only in passing: evidence just below the threshold
    paper(2, "Chromatic vertex partitions", "Chromatic vertex partitions, as in graph coloring."),
    paper(
        3, "Chromatic polynomials of vertex orders", "Chromatic polynomials, as in graph coloring."
    ),
    paper(4, "Chromatic index of sparse vertex sets", "Chromatic index, as in graph coloring."),
    # about something else, the phrase in passing: as borderline
    paper(5, "Sourdough fermentation kinetics", "Dough yeast fermentation; graph coloring aside."),
    paper(6, "Sourdough crust browning", "Dough yeast crust browning; graph coloring aside."),
    # unrelated
    paper(7, "Traffic forecasting on road networks", "Road traffic forecasting."),
    paper(8, "Weather radar nowcasting", "Radar nowcasting of rain."),
    paper(9, "Image denoising with priors", "Denoising images."),
]
PROFILE = topics_profile(["graph coloring"])
BORDERLINE = {PAPERS[i].key for i in (2, 3, 4, 5, 6)}
NEAR = Influence(shift=2.0, like=8.0)


def vote(user: str, i: int, v: Vote) -> Feedback:
    return Feedback("slack:C1", user, PAPERS[i].key, v, T0)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(PAPERS, build(PAPERS))


DEFAULT = Influence()


def model(votes: list[Feedback], influence: Influence = DEFAULT) -> Learned:
    found = train(votes, {p.key: p for p in PAPERS}, PAPERS, influence=influence)
    assert found is not None
    return found


MORE = [vote("u1", 2, 1), vote("u2", 3, 1)]  # "more" on two borderline papers
LESS = [vote("u1", 2, -1), vote("u2", 5, -1)]


def keys(matches: list) -> list[str]:  # type: ignore[type-arg]
    return [m.paper.key for m in matches]


def test_the_borderline_papers_are_just_below_the_threshold(matcher: Matcher) -> None:
    evidence = matcher.topic_evidence("graph coloring")
    for i in range(2, 7):
        assert 0 < evidence[i].evidence < matcher.threshold
    assert set(keys(matcher.match(PROFILE))) == {PAPERS[0].key, PAPERS[1].key}


def test_without_a_model_nothing_changes(matcher: Matcher) -> None:
    assert matcher.match(PROFILE) == matcher.match(PROFILE, None)
    assert matcher.best(PROFILE, limit=0) == matcher.best(PROFILE, limit=0, learned=None)
    for i in range(len(PAPERS)):
        assert matcher.verdict(PROFILE, i) == matcher.verdict(PROFILE, i, None)


def test_more_on_borderline_papers_lowers_the_threshold(matcher: Matcher) -> None:
    found = matcher.match(PROFILE, model(MORE))
    assert set(keys(found)) >= BORDERLINE
    added = next(m for m in found if m.paper.key == PAPERS[4].key)
    assert added.topics == ("feedback",) and added.reasons[0].startswith("feedback:")
    assert not any(m.paper.key in {PAPERS[i].key for i in (7, 8, 9)} for m in found)


def test_not_for_us_on_borderline_papers_adds_nothing(matcher: Matcher) -> None:
    assert keys(matcher.match(PROFILE, model(LESS))) == keys(matcher.match(PROFILE))


def test_nearness_to_liked_and_disliked_papers_tips_borderline_ones(matcher: Matcher) -> None:
    votes = [*MORE, vote("u1", 5, -1)]
    found = set(keys(matcher.match(PROFILE, model(votes, NEAR))))
    assert PAPERS[4].key in found  # like the liked chromatic papers
    assert PAPERS[6].key not in found  # like the disliked sourdough paper


def test_one_vote_is_no_model() -> None:
    assert train([vote("u1", 2, 1)], {p.key: p for p in PAPERS}, PAPERS) is None


def test_a_model_that_may_not_move_changes_only_the_order(matcher: Matcher) -> None:
    still = model(MORE, Influence(shift=0.0, like=0.0))
    assert set(keys(matcher.match(PROFILE, still))) == set(keys(matcher.match(PROFILE)))


def test_kept_matches_are_ranked_by_score(matcher: Matcher) -> None:
    found = matcher.match(PROFILE, model(MORE))
    scores = [round(m.score, 6) for m in found]  # as rank_key compares them
    assert scores == sorted(scores, reverse=True)


def test_best_verdict_and_match_agree(matcher: Matcher) -> None:
    learned = model([*MORE, vote("u1", 5, -1)], NEAR)
    everything = matcher.match(PROFILE, learned)
    best, total = matcher.best(PROFILE, limit=0, learned=learned)
    assert best == everything and total == len(everything)
    chosen = set(keys(everything))
    for i, p in enumerate(PAPERS):
        assert matcher.verdict(PROFILE, i, learned).matched == (p.key in chosen)
    top, total = matcher.best(PROFILE, limit=1, drop=[frozenset({0})], learned=learned)
    rest = [m for m in everything if m.paper.key != PAPERS[0].key]
    assert top == rest[:1] and total == len(rest)


def test_exclusions_hold_against_the_model(matcher: Matcher) -> None:
    profile = topics_profile(["graph coloring"], exclude=["sourdough"])
    found = set(keys(matcher.match(profile, model(MORE))))
    assert PAPERS[5].key not in found and PAPERS[6].key not in found
    assert PAPERS[4].key in found


def test_unsure_asks_about_the_borderline_papers(matcher: Matcher) -> None:
    asked = matcher.unsure(PROFILE, limit=3)
    assert len(asked) == 3 and all(m.unsure for m in asked)
    assert {m.paper.key for m in asked} <= BORDERLINE
    assert all(m.topics == ("graph coloring",) for m in asked)
    assert matcher.unsure(PROFILE, limit=0) == []
    everything = matcher.unsure(PROFILE, limit=10)
    assert {m.paper.key for m in everything} == BORDERLINE  # never a selected or unrelated one
    away = matcher.unsure(PROFILE, limit=10, drop=[frozenset({2, 3})])
    assert {m.paper.key for m in away} == BORDERLINE - {PAPERS[2].key, PAPERS[3].key}


def test_unsure_with_a_model_skips_selected_and_voted_papers(matcher: Matcher) -> None:
    learned = model([*MORE, vote("u1", 5, -1)], NEAR)
    selected = set(keys(matcher.match(PROFILE, learned)))
    asked = {m.paper.key for m in matcher.unsure(PROFILE, limit=10, learned=learned)}
    assert asked == BORDERLINE - selected - {PAPERS[i].key for i in (2, 3, 5)}
    assert all(not m.unsure for m in matcher.match(PROFILE, learned))
