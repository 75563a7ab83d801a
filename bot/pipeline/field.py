"""The analysed text field the matcher searches (`Field`): stems in order with their
sentence numbers, the head of a prefixed compound as an alternative stem (`head_word`:
`biomedical` -> `medical`), and the words of an `X-of-Y` unit bound to X. Pure; built on
the folding, words and stems of `bot.pipeline.text`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.pipeline.text import _WORD, _findall, fold, sentences, stem

# Combining forms that make a kind of the word they prefix (biomedical is medical,
# multitask is a task, pretraining is training). Negating or reversing prefixes
# (non-, un-, de-, re-) are deliberately absent: decode is not code.
HYPONYM_PREFIXES = (
    "bio",
    "neuro",
    "geo",
    "electro",
    "multi",
    "cross",
    "meta",
    "semi",
    "sub",
    "super",
    "inter",
    "intra",
    "micro",
    "macro",
    "hyper",
    "pre",
    "post",
    "mini",
    "omni",
    "poly",
    "mono",
)
MIN_REST = 4
# No prefix above begins another, so a word starts with at most one of them.
_PREFIX = re.compile("|".join(HYPONYM_PREFIXES))


def head_word(word: str, known: Callable[[str], bool]) -> str | None:
    """The word inside a prefixed compound (`biomedical` -> `medical`) when `known` says the
    rest is a word, else None."""
    m = _PREFIX.match(word)
    if m is not None and len(word) - m.end() >= MIN_REST:
        rest = word[m.end() :].lstrip("-")
        if known(rest):
            return rest
    return None


def _bind_of_phrase(chain: list[int], out: list[str], bound: dict[int, int]) -> None:
    """In a hyphenated `X-of-Y` unit (part-of-speech, mixture-of-experts, state-of-the-art)
    the head is X: bind the words after `of` to X's position, so a lone `speech` found
    there is not the topic `speech` (a phrase that covers X still matches)."""
    for k in range(1, len(chain) - 1):
        if out[chain[k]] == "of":
            for j in chain[k + 1 :]:
                bound[j] = chain[k - 1]
            return


# How a word reads in a field: its stem, the stem of its head when it is a prefixed compound
# of a known word (else None), and whether it stems to "of" without being "of" (X-of-Y units
# bind on the stem "of").
WordInfo = tuple[str, str | None, bool]
MAX_WORD_CACHE = 500_000


def word_info(word: str, known: Callable[[str], bool] | None) -> WordInfo:
    """`word`'s stem, its head's stem (`known` says which words exist), and whether it
    stems to "of" without being "of" ("ofness")."""
    head = head_word(word, known) if known is not None else None
    s = stem(word)
    return s, stem(head) if head else None, s == "of" and word != "of"


class KnownWords:
    """The words of a vocabulary seen at least `min_count` times, as `Field.of`'s `known`,
    with the cache of how words read against them (`word_info`)."""

    def __init__(self, vocab: Mapping[str, int], min_count: int = 2) -> None:
        self._vocab = vocab
        self._min = min_count
        self.cache: dict[str, WordInfo] = {}

    def __call__(self, word: str) -> bool:
        return self._vocab.get(word, 0) >= self._min


def _bind_of_phrases(folded: str, start: int, out: list[str], bound: dict[int, int]) -> None:
    """Bind the X-of-Y units of one folded sentence whose words are `out[start:]`."""
    chain: list[int] = []
    prev_end = -1
    for k, m in enumerate(_WORD.finditer(folded), start):
        if prev_end < 0 or folded[prev_end : m.start()] != "-":
            _bind_of_phrase(chain, out, bound)
            chain = []
        chain.append(k)
        prev_end = m.end()
    _bind_of_phrase(chain, out, bound)


@dataclass(frozen=True, slots=True)
class Field:
    """One analysed text field: its stems in order, the sentence number of each stem, and
    alternative stems at some positions (the head of a prefixed compound)."""

    stems: tuple[str, ...]
    sentence_of: tuple[int, ...]
    alts: Mapping[int, str] = field(default_factory=dict)
    bound: Mapping[int, int] = field(default_factory=dict)
    vocabulary: frozenset[str] = field(init=False, repr=False, compare=False)
    _found: dict[str, list[int]] = field(init=False, repr=False, compare=False)
    _spans: dict[tuple[str, ...], list[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = set(self.stems)
        words.update(self.alts.values())
        object.__setattr__(self, "vocabulary", frozenset(words))
        object.__setattr__(self, "_found", {})
        object.__setattr__(self, "_spans", {})

    def words(self) -> frozenset[str]:
        """Every stem of the field, and every alternative."""
        return self.vocabulary

    def stem_positions(self, s: str) -> list[int]:
        """The positions of stem `s` (not counting alternatives), in order. Do not modify
        the list: it is remembered for the next call."""
        if s not in self.vocabulary:
            return []
        out = self._found.get(s)
        if out is None:
            stems = self.stems
            out = self._found[s] = []
            i = -1
            for _ in range(stems.count(s)):
                i = stems.index(s, i + 1)
                out.append(i)
        return out

    def positions(self, s: str) -> list[int]:
        """The positions of stem `s`, as itself or as an alternative, in order."""
        out = self.stem_positions(s)
        if self.alts:
            extra = [i for i, alt in self.alts.items() if alt == s and self.stems[i] != s]
            if extra:
                return sorted(out + extra)
        return out

    @classmethod
    def of(cls, text: str, known: Callable[[str], bool] | None = None) -> Field:
        """Analyse `text`; a compound's head counts where `known` says it is a word. With
        `KnownWords`, how each word reads is remembered between calls."""
        out: list[str] = []
        sent: list[int] = []
        alts: dict[int, str] = {}
        bound: dict[int, int] = {}
        cache = known.cache if isinstance(known, KnownWords) else {}
        if len(cache) > MAX_WORD_CACHE:
            cache.clear()
        for i, sentence in enumerate(sentences(text) if text else ()):
            folded = fold(sentence)
            ws = _findall(folded)
            if not ws:
                continue
            start = len(out)
            odd_of = False
            for w in ws:
                info = cache.get(w)
                if info is None:
                    info = cache[w] = word_info(w, known)
                if info[1] is not None:
                    alts[len(out)] = info[1]
                odd_of = odd_of or info[2]
                out.append(info[0])
            sent += [i] * len(ws)
            # A unit binds only around a hyphenated "of" (or a word that stems to it).
            if "-of-" in folded or (odd_of and "-" in folded):
                _bind_of_phrases(folded, start, out, bound)
        return cls(tuple(out), tuple(sent), alts, bound)

    def at(self, i: int, s: str) -> bool:
        """True when position `i` is stem `s` or has it as an alternative."""
        return self.stems[i] == s or self.alts.get(i) == s

    def find(self, phrase: tuple[str, ...]) -> list[int]:
        """Start positions of `phrase` (contiguous stems, each as itself or as an
        alternative), in order. Do not modify the list: it is remembered for the next call."""
        vocabulary = self.vocabulary
        for s in phrase:
            if s not in vocabulary:
                return []
        n = len(phrase)
        if n <= 1:
            return self.positions(phrase[0]) if phrase else list(range(len(self.stems) + 1))
        found = self._spans.get(phrase)
        if found is None:  # many topics share phrasings: each is looked for once per field
            last = len(self.stems) - n
            at = self.at
            found = self._spans[phrase] = [
                i
                for i in self.positions(phrase[0])
                if i <= last and all(at(i + j, phrase[j]) for j in range(1, n))
            ]
        return found
