"""Text analysis shared by matching and search: normalization, tokens, stems, sentences."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import snowballstemmer
from pylatexenc.latex2text import LatexNodes2Text, get_default_latex_context_db

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


# --- TeX in titles, abstracts and author names -------------------------------------------
#
# arXiv spells math and accents in TeX (`$\pi$-Tuning`, `Andr\'e`), other sources in
# Unicode. Only TeX *fragments* are read (by pylatexenc), the text around them is left as
# it is, so ordinary text keeps its dollar signs, percent signs, dashes and backslashes:
#   - inline math `$...$` by pandoc's rule: the opening `$` has a non-space on its right, the
#     closing one a non-space on its left and no digit after it ("$5 to $10" is not math);
#     also `$$...$$` and `\(...\)`;
#   - a command pylatexenc knows (`\textbf{x}`, `\ss{}`, `\alpha`) with its arguments;
#     an unknown one (`C:\Users`) stays as typed;
#   - an accent (`\'e`, `\"{o}`, `\c{c}`), an escaped special (`\%`, `\&`, `\$`);
#   - a braced group opening with a command (`{\'e}`, `{\o}`, `{\bf x}`).
# Bounded: fragments are at most a few hundred characters with braces nested at most four
# deep (deeper or unbalanced braces are not a fragment), and at most MAX_TEX_FRAGMENTS of a
# text are read.
MAX_TEX_FRAGMENTS = 400
_MAX_MATH = 300
_BRACES = r"\{[^{}]{0,200}\}"
for _ in range(3):  # four levels of nesting, each group bounded
    _BRACES = rf"\{{(?:[^{{}}]|{_BRACES}){{0,200}}\}}"
_TEX_FRAGMENT = re.compile(
    rf"\$\$(?=[^\s$])(?:[^$\\]|\\.){{1,{_MAX_MATH}}}?(?<=[^\s\\])\$\$"
    rf"|\$(?=[^\s$])(?:[^$\\]|\\.){{1,{_MAX_MATH}}}?(?<=[^\s\\])\$(?!\d)"
    rf"|\\\((?:[^\\]|\\[^)]){{1,{_MAX_MATH}}}?\\\)"
    rf"|\{{\\(?:[^{{}}]|{_BRACES}){{0,200}}\}}"
    rf"|\\(?P<name>[A-Za-z]+)\*?(?:\[[^\[\]{{}}]{{0,100}}\])?(?:{_BRACES}){{0,3}}"
    r"|\\[`'^\"~=.](?:[A-Za-z]|\{\\?[A-Za-z]?\}|\\[ij](?![A-Za-z]))"
    r"|\\[&%$#_{}]",
)
_KNOWN_MACROS = get_default_latex_context_db()
_LETTER_ACCENTS = frozenset("bcdGHkrtuUv")
_MAX_DEPTH = 8
_latex = threading.local()
logging.getLogger("pylatexenc").setLevel(logging.ERROR)  # tolerant parsing warns on every slip


def _reader() -> LatexNodes2Text:
    reader = getattr(_latex, "reader", None)
    if reader is None:
        reader = _latex.reader = LatexNodes2Text(math_mode="text")
    return reader


def _depth(fragment: str) -> int:
    depth = deepest = 0
    for ch in fragment:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
    return deepest


@lru_cache(maxsize=8192)
def _read_fragment(fragment: str) -> str:
    if _depth(fragment) > _MAX_DEPTH:
        return fragment
    try:
        text = _reader().latex_to_text(fragment)
    except Exception:  # pylatexenc's own failures on odd input: keep the fragment as typed
        return fragment
    return _SPACE_RUN.sub(" ", text)


_SPACE_RUN = re.compile(r"\s+")
_URL = re.compile(r"\\(?:url|path)\{([^{}]*)\}")


def _known(name: str, fragment: str) -> bool:
    """Whether the command `\\name` is TeX pylatexenc reads, given as `fragment`: a command
    that takes an argument (`\\url{x}`, `\\c{c}`) only with one (`a\\b` is not `a` + macron)."""
    spec = _KNOWN_MACROS.get_macro_spec(name)
    if spec is None:
        return False
    takes_argument = name in _LETTER_ACCENTS or "%" in str(getattr(spec, "simplify_repl", ""))
    return "{" in fragment or not takes_argument


def _fragment_text(match: re.Match[str]) -> str:
    name = match.group("name")
    if name is not None and not _known(name, match.group()):
        return match.group()  # not TeX we know: `C:\Users`, `\Ours`, `a\b`
    address = _URL.fullmatch(match.group())
    if address:  # the address itself (pylatexenc writes `<address>`)
        return address.group(1)
    return _read_fragment(match.group())


def tex_to_text(text: str) -> str:
    r"""`text` with its TeX fragments read as Unicode text (`$\pi$-Tuning` -> `π-Tuning`,
    `Andr\'e` -> `André`, `\textbf{x}` -> `x`); text without TeX is returned unchanged.
    Titles, abstracts and author names of every source are read through it, and the title
    identity (`bot.models.normalize_title`) reads titles the same way."""
    if "\\" not in text and "$" not in text:
        return text
    count = 0

    def one(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return _fragment_text(match) if count <= MAX_TEX_FRAGMENTS else match.group()

    return _TEX_FRAGMENT.sub(one, text)


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
