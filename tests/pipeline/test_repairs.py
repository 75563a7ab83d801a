"""`repairs.prefill` works out typo repairs of many topics at once: exactly the repairs
`query._closest` finds word by word (and so what `understand` reads), for misspelt, known,
short and non-alphabetic words."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.synth import Corpus  # noqa: E402
from bot.pipeline import query, repairs  # noqa: E402
from bot.pipeline.lexicon import Lexicon, build  # noqa: E402
from bot.pipeline.text import words  # noqa: E402

pytest.importorskip("numpy")


def _lexicon() -> Lexicon:
    return build(list(Corpus(3).papers(1_500)))


def _misspelt(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    edit = rng.randrange(3)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if edit == 0:
        return word[:i] + word[i + 1 :]
    if edit == 1:
        return word[:i] + letter + word[i:]
    return word[:i] + letter + word[i + 1 :]


def test_prefill_finds_what_closest_finds() -> None:
    lex = _lexicon()
    rng = random.Random(7)
    vocab = [w for w in lex.vocab if len(w) >= 4 and w.isalpha()]
    typed = [_misspelt(w, rng) for w in rng.sample(vocab, 400)]
    topics = [" ".join(typed[i : i + 3]) for i in range(0, len(typed), 3)]
    topics += ["mixture of experst", "retreival augmented generaton", "x-rays 3d", "MoE"]
    fresh = Lexicon(lex.n_docs, lex.df, lex.vocab, lex.acronyms, lex.spelled)
    wanted = repairs.unrepaired(topics, fresh)
    assert len(wanted) > 100
    assert repairs.prefill(topics, fresh) == len(wanted)
    assert any(fresh.repairs[w] for w in wanted) and any(not fresh.repairs[w] for w in wanted)
    for w in wanted:
        assert fresh.repairs[w] == query._closest(w, lex), w
    assert repairs.unrepaired(topics, fresh) == []
    assert repairs.prefill(topics, fresh) == 0


def test_understand_reads_the_same_after_prefill() -> None:
    lex = _lexicon()
    topics = ["mixture of experst", "retreival augmented generaton", "speach recognitoin"]
    plain = Lexicon(lex.n_docs, lex.df, lex.vocab, lex.acronyms, lex.spelled)
    filled = Lexicon(lex.n_docs, lex.df, lex.vocab, lex.acronyms, lex.spelled)
    repairs.prefill(topics, filled)
    assert {w for t in topics for w in words(t)} & filled.repairs.keys()
    for t in topics:
        assert repr(query.understand(t, filled)) == repr(query.understand(t, plain))
    assert filled.repairs == plain.repairs
