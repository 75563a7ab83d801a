"""Text analysis shared by matching and search: normalization (`fold`, `visible_text`),
words, stems, sentences and stopwords. TeX is read in `bot.pipeline.tex`, and the analysed
field the matcher searches is `bot.pipeline.field.Field`."""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

import snowballstemmer

# Letters and digits; an internal apostrophe or period between digits stays in the word
# ("don't", "2.5"); hyphens, slashes and other punctuation separate words.
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*(?:\.\d+)*", re.UNICODE)
# The same on ASCII text (most text), faster.
_WORD_ASCII = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)*(?:\.[0-9]+)*")
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

# A Snowball stemmer keeps state between calls: one per thread (searches and digests stem
# in worker threads at the same time).
_stemmers = threading.local()


def _stemmer() -> Any:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer


class _Marks(dict[int, int | None]):
    """A str.translate table that deletes combining marks, filled in as characters are met."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_MARKS = _Marks()


def fold(text: str) -> str:
    """NFKC, case-folded, combining marks removed: the form every comparison uses."""
    if text.isascii():
        return text.lower()  # the same as the general case, for ASCII, without the tables
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return text.translate(_MARKS)


_VOWEL = re.compile("[aeiouy]")


class _Hidden(dict[int, int | None]):
    """A str.translate table deleting characters that show nothing or reorder the text:
    format characters (Cf: bidi controls, zero-width spaces and joiners, soft hyphen, BOM),
    controls (Cc) other than tab and line breaks, and lone surrogates."""

    def __missing__(self, code: int) -> int | None:
        ch = chr(code)
        hidden = unicodedata.category(ch) in ("Cc", "Cf", "Cs") and ch not in "\t\n\r\v\f"
        kept = None if hidden else code
        self[code] = kept
        return kept


_HIDDEN = _Hidden()


def visible_text(text: str) -> str:
    """`text` as it reads: without bidi controls, zero-width and other format or control
    characters (tabs and line breaks stay), NFKC-normalized (`ｍｏｅ` -> `moe`). What a user
    typed is read through it, so that what they cannot see cannot change what it does."""
    if text.isascii() and text.isprintable():
        return text  # nothing hidden (the common case)
    return unicodedata.normalize("NFKC", text.translate(_HIDDEN)).translate(_HIDDEN)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a folded word; digits and short words stay as they are.
    An acronym's plural loses its `s` (`llms` -> `llm`): a word with no vowel before a final
    `s` is an acronym, which Snowball would leave alone."""
    if len(word) >= 4 and word.endswith("s") and word.isalpha() and not _VOWEL.search(word[:-1]):
        return word[:-1]
    if len(word) <= 3 or not word.isalpha():
        return word
    return str(_stemmer().stemWord(word))


def _findall(folded: str) -> list[str]:
    return (_WORD_ASCII if folded.isascii() else _WORD).findall(folded)


def words(text: str) -> list[str]:
    """Folded words of `text` in order (`Mixture-of-Experts` -> mixture, of, experts)."""
    return _findall(fold(text))


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
