"""Typo repairs of many topics at once. Pure (fills the lexicon's own cache).

`bot.pipeline.query` repairs an unknown word when it understands a topic: the 5 archive
words most similar to it (fuzz.ratio, at least TYPO_MIN_SCORE, ties in vocabulary order),
one word at a time (`query._closest`, `process.extract` over each plausible length of the
vocabulary). A digest cycle understands thousands of topics; `prefill` works out the
repairs of all their unknown words in one pass per word length (`process.cdist`: each
length's words prepared once, not once per misspelt word) and stores them in
`Lexicon.repairs`, where `understand` finds them: the same repairs (a test compares them
with `query._closest`), several times faster. Without numpy (rapidfuzz's cdist needs it:
the `semantic` extra brings it) it does nothing and `understand` repairs as before.
"""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import fuzz, process

from bot.pipeline.lexicon import Lexicon
from bot.pipeline.query import TYPO_MIN_LEN, TYPO_MIN_SCORE
from bot.pipeline.text import words

# Misspelt words scored against one length of the vocabulary at once, at most (a score
# matrix of QUERIES x that length's words).
QUERIES = 256
TOP = 5  # the repair is chosen among the TOP most similar words (as query._closest)


def unrepaired(texts: Iterable[str], lex: Lexicon) -> list[str]:
    """The words of `texts` that `understand` would repair (`query._fix_typo`: unknown,
    alphabetic, TYPO_MIN_LEN letters or more, some archive word within two letters of its
    length) and whose repair `lex` does not know yet, each once, in first-seen order."""
    vocab, lengths, known = lex.vocab, lex.word_lengths, lex.repairs
    out: dict[str, None] = {}
    for text in texts:
        for w in words(text):
            if w in out or w in known or len(w) < TYPO_MIN_LEN or not w.isalpha():
                continue
            if vocab.get(w, 0) > 0:
                continue
            if any(n in lengths for n in range(len(w) - 2, len(w) + 3)):
                out[w] = None
    return list(out)


def prefill(texts: Iterable[str], lex: Lexicon) -> int:
    """Work out the repairs of every word of `texts` that `understand` would repair and
    store them in `lex.repairs` (as `query._closest` finds them); how many were added.
    Thread-safe as far as the lexicon's cache is: each entry is set whole, and is the same
    whoever computes it."""
    try:
        import numpy as np
    except ImportError:  # cdist needs numpy: understand repairs word by word instead
        return 0
    wanted = unrepaired(texts, lex)
    if not wanted:
        return 0
    found: dict[str, list[tuple[float, int, str]]] = {w: [] for w in wanted}
    for length, (indexes, bucket) in lex.words_by_length.items():
        # only lengths that allow TYPO_MIN_SCORE (as query._closest)
        near = [
            w
            for w in wanted
            if 100.0 * (1 - abs(len(w) - length) / (len(w) + length)) >= TYPO_MIN_SCORE - 1e-9
        ]
        for start in range(0, len(near), QUERIES):
            queries = near[start : start + QUERIES]
            scores = process.cdist(
                queries, bucket, scorer=fuzz.ratio, score_cutoff=TYPO_MIN_SCORE, dtype=np.float64
            )
            rows, cols = np.nonzero(scores >= TYPO_MIN_SCORE)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                found[queries[r]].append((float(scores[r, c]), indexes[c], bucket[c]))
    repairs = lex.repairs
    for w, hits in found.items():
        hits.sort(key=lambda h: (-h[0], h[1]))
        good = [(c, s) for s, _, c in hits[:TOP] if abs(len(c) - len(w)) <= 2]
        repairs[w] = max(good, key=lambda cs: (cs[1], lex.vocab[cs[0]]))[0] if good else None
    return len(found)
