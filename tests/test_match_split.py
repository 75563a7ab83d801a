"""A digest run's topics evaluated in two processes (`Matcher.evaluate(split=True)`, over
`bot.pipeline.split.both`) give the same concepts and evidence as evaluated one by one, and
`both` gives the child's result whatever happens to the child."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.synth import Corpus  # noqa: E402
from bot.pipeline import split  # noqa: E402
from bot.pipeline.lexicon import build  # noqa: E402
from bot.pipeline.match import Matcher  # noqa: E402

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _outputs(m: Matcher, topics: list[str]) -> list[object]:
    return [
        (
            repr(m.concept(t)),
            sorted((i, e.evidence, e.reasons) for i, e in m.topic_evidence(t).items()),
        )
        for t in topics
    ]


def test_split_evaluation_is_the_same_as_one_by_one() -> None:
    corpus = Corpus(3)
    papers = list(corpus.papers(300, first_seen=NOW))
    lexicon = build(papers)
    profiles = corpus.profiles(120)
    # typed twice, differently cased: the same topic key, evaluated once
    topics = [t for p in profiles for t in (*p.topics, *p.exclude)]
    topics += [t.upper() for t in topics[:10]]
    alone = Matcher(papers, lexicon)
    expected = _outputs(alone, topics)
    together = Matcher(papers, lexicon)
    together.evaluate(topics, split=True)
    evaluated = dict(together._cache)
    assert len(evaluated) == len({together._key(t) for t in topics})
    assert _outputs(together, topics) == expected
    assert together._cache == evaluated  # nothing was left to evaluate afterwards
    for p in profiles[:30]:
        assert together.match(p) == alone.match(p)


def test_both_returns_the_childs_result_computed_elsewhere() -> None:
    if not hasattr(os, "fork") or split.cores() < 2:
        pytest.skip("needs fork and two cores")
    here = os.getpid()
    theirs, mine = split.both(lambda: [os.getpid()] * 200, lambda: os.getpid())
    assert mine == here and len(theirs) == 200 and theirs[0] != here  # in several parts


def test_both_computes_here_what_a_failing_child_did_not_send() -> None:
    calls: list[int] = []

    def theirs() -> list[int]:
        calls.append(os.getpid())
        if len(calls) == 1 and os.getpid() != here:
            os._exit(3)  # the child dies without a result
        return [7]

    here = os.getpid()
    assert split.both(theirs, lambda: 5) == ([7], 5)
    assert calls[-1] == here


def test_both_without_a_second_core_runs_both_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split, "cores", lambda: 1)
    here = os.getpid()
    assert split.both(lambda: [os.getpid()], lambda: os.getpid()) == ([here], here)
