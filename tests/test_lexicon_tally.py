"""Tally: a lexicon counted paper by paper (added, updated, deleted) is the lexicon `build`
learns from the same papers from scratch, the order of its dictionaries included."""

from __future__ import annotations

import random
from typing import Any

import pytest

from bot.models import Paper
from bot.pipeline import lexicon
from bot.pipeline.lexicon import Lexicon, Tally, build, count_in_parallel

WORDS = [
    "model",
    "models",
    "modelling",
    "sparse",
    "expert",
    "experts",
    "mixture",
    "of",
    "learning",
    "deep",
    "zoë",
    "Zoe",
    "data",
]
DEFINITIONS = [
    "a Mixture of Experts (MoE) layer",
    "the mixture-of-experts (MoE) idea",
    "Mixture of Expert (MoE)",
    "large language models (LLMs) today",
    "Large Language Model (LLM)",
    "neural machine translation (NMT)",
    "Masked Language Modelling (MLM)",
]


def exact(lex: Lexicon) -> tuple[Any, ...]:
    """Everything a lexicon holds, dictionaries in their order (df's order is arbitrary)."""
    return (
        lex.n_docs,
        list(lex.vocab.items()),
        sorted(lex.df.items()),
        [(sf, list(forms.items())) for sf, forms in lex.acronyms.items()],
        list(lex.spelled.items()),
    )


def random_paper(rng: random.Random) -> Paper:
    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n))

    abstract = f"{text(rng.randint(0, 12))}. {rng.choice(DEFINITIONS)} {text(rng.randint(0, 8))}"
    if rng.random() < 0.3:
        abstract += f" and {rng.choice(DEFINITIONS)}"
    keywords = tuple(rng.sample(WORDS, rng.randint(0, 3)))
    return Paper(title=text(rng.randint(1, 5)), abstract=abstract, ai_keywords=keywords)


def counted(tally: Tally, stored: dict[int, Paper]) -> Lexicon:
    start = tally.orphaned_from()
    if start is not None:
        tally.resolve(
            (pid, p.title, p.abstract, p.ai_keywords)
            for pid, p in sorted(stored.items())
            if pid >= start
        )
    return tally.lexicon()


@pytest.mark.parametrize("seed", range(12))
def test_a_tally_kept_through_updates_and_deletes_is_a_build_from_scratch(seed: int) -> None:
    rng = random.Random(seed)
    stored: dict[int, Paper] = {}
    tally = Tally()
    next_id = 1
    for _ in range(25):  # batches of changes, as catch-ups see them
        removed: list[tuple[int, Paper]] = []
        added: dict[int, Paper] = {}
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            if op < 0.5 or not stored:
                stored[next_id] = added[next_id] = random_paper(rng)
                next_id += 1
            else:
                pid = rng.choice(sorted(stored))
                if pid not in added:
                    removed.append((pid, stored[pid]))
                if op < 0.85:
                    stored[pid] = added[pid] = random_paper(rng)
                else:
                    del stored[pid]
                    added.pop(pid, None)
        for pid, p in removed:  # what was counted goes first, then what is stored now
            tally.remove(pid, p.title, p.abstract, p.ai_keywords)
        for pid, p in sorted(added.items()):
            tally.add(pid, p.title, p.abstract, p.ai_keywords)
        got = counted(tally, stored)
        assert exact(got) == exact(build(p for _, p in sorted(stored.items())))
        again = Tally.load(tally.dump())
        assert exact(again.lexicon()) == exact(got)


def test_build_is_unchanged_by_counting_one_paper_at_a_time() -> None:
    papers = [random_paper(random.Random(i)) for i in range(50)]
    lex = build(papers)
    assert lex.n_docs == 50
    assert lex.vocab and lex.df and lex.acronyms and lex.spelled
    assert lex.long_forms("MoE")


def test_a_build_split_between_processes_is_the_build_in_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    papers = [random_paper(random.Random(i)) for i in range(300)]
    texts = [(i, p.title, p.abstract, p.ai_keywords) for i, p in enumerate(papers)]
    one = build(papers)
    assert exact(build(papers, parallel_from=2)) == exact(one)
    monkeypatch.setattr(lexicon, "COUNT_BATCH", 37)  # the spawned ones' runs: uneven
    assert exact(count_in_parallel(texts, 3).lexicon()) == exact(one)
    assert exact(count_in_parallel(texts[:1], 2).lexicon()) == exact(build(papers[:1]))


def test_lexicon_refuses_orphans_until_resolved() -> None:
    tally = Tally()
    first, second = Paper(title="sparse models", abstract=""), Paper(title="x models", abstract="")
    tally.add(1, first.title, first.abstract, ())
    tally.add(2, second.title, second.abstract, ())
    tally.remove(1, first.title, first.abstract, ())
    assert tally.orphaned_from() == 1
    with pytest.raises(ValueError, match="orphans"):
        tally.lexicon()
    tally.resolve([(2, second.title, second.abstract, ())])
    assert list(tally.lexicon().vocab) == ["x", "models"]
