"""Text analysis shared by matching and search: normalization, tokens, stems, sentences."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

# Letters and digits; an internal apostrophe or period between digits stays in the word
# ("don't", "2.5"); hyphens, slashes and other punctuation separate words.
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*(?:\.\d+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"“])")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "may",
        "might",
        "more",
        "most",
        "no",
        "nor",
        "not",
        "of",
        "on",
        "or",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "via",
        "using",
        "use",
        "used",
        "based",
        "towards",
        "toward",
        "new",
        "novel",
        "paper",
        "propose",
        "proposed",
        "approach",
        "method",
        "methods",
        "work",
        "also",
        "both",
        "each",
        "other",
        "between",
    ]
)

_stemmer = snowballstemmer.stemmer("english")


def fold(text: str) -> str:
    """NFKC, case-folded, combining marks removed: the form every comparison uses."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


_VOWEL = re.compile("[aeiouy]")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a folded word; digits and short words stay as they are.
    An acronym's plural loses its `s` (`llms` -> `llm`): a word with no vowel before a final
    `s` is an acronym, which Snowball would leave alone."""
    if len(word) >= 4 and word.endswith("s") and word.isalpha() and not _VOWEL.search(word[:-1]):
        return word[:-1]
    if len(word) <= 3 or not word.isalpha():
        return word
    return str(_stemmer.stemWord(word))


def words(text: str) -> list[str]:
    """Folded words of `text` in order (`Mixture-of-Experts` -> mixture, of, experts)."""
    return _WORD.findall(fold(text))


def surface_words(text: str) -> list[str]:
    """Words of `text` with their original case (for acronym detection)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text))


def stems(text: str) -> list[str]:
    """Stems of the words of `text`, in order."""
    return [stem(w) for w in words(text)]


def sentences(text: str) -> list[str]:
    """`text` split into sentences (a period followed by space and a capital or digit)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def is_content(word: str) -> bool:
    """True for words that can carry a topic's meaning (not stopwords, not one letter)."""
    return len(word) > 1 and word not in STOPWORDS


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


def head_word(word: str, known: Callable[[str], bool]) -> str | None:
    """The word inside a prefixed compound (`biomedical` -> `medical`) when `known` says the
    rest is a word, else None."""
    for prefix in HYPONYM_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_REST:
            rest = word[len(prefix) :].lstrip("-")
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


@dataclass(frozen=True, slots=True)
class Field:
    """One analysed text field: its stems in order, the sentence number of each stem, and
    alternative stems at some positions (the head of a prefixed compound)."""

    stems: tuple[str, ...]
    sentence_of: tuple[int, ...]
    alts: Mapping[int, str] = field(default_factory=dict)
    bound: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str, known: Callable[[str], bool] | None = None) -> Field:
        out: list[str] = []
        sent: list[int] = []
        alts: dict[int, str] = {}
        bound: dict[int, int] = {}
        for i, sentence in enumerate(sentences(text) if text else ()):
            folded = fold(sentence)
            chain: list[int] = []
            prev_end = -1
            for m in _WORD.finditer(folded):
                if prev_end < 0 or folded[prev_end : m.start()] != "-":
                    _bind_of_phrase(chain, out, bound)
                    chain = []
                w = m.group()
                if known is not None and (head := head_word(w, known)):
                    alts[len(out)] = stem(head)
                chain.append(len(out))
                out.append(stem(w))
                sent.append(i)
                prev_end = m.end()
            _bind_of_phrase(chain, out, bound)
        return cls(tuple(out), tuple(sent), alts, bound)

    def at(self, i: int, s: str) -> bool:
        """True when position `i` is stem `s` or has it as an alternative."""
        return self.stems[i] == s or self.alts.get(i) == s
