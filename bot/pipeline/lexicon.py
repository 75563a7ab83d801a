"""What the archive teaches about words: document frequencies, vocabulary, and acronyms
learned from definitions such as "Mixture-of-Experts (MoE)".

How common a word is (`Lexicon.share`, `Lexicon.idf`) must not hinge on the archive's size:
a new install's archive holds a handful of papers, whose document shares are noise. So a
word's share of papers is estimated as a Bayesian posterior: a Beta prior centred on a
reference share from general English word frequencies (wordfreq, shipped with the package,
`reference_share`), worth PRIOR_DOCS papers, updated with the archive's own document
frequency. A tiny archive leans on the reference, a large one on itself.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from bot.models import Paper
from bot.pipeline.field import KnownWords
from bot.pipeline.text import fold, stem, words

# "long form (SF)" — SF: 2-10 characters, starts with a letter, has an upper-case letter.
_PAREN_SF = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9\-]{1,9})\s*[);,]")
_MAX_LF_WORDS = 8

# Reference shares (`reference_share`): a paper's title and abstract cover about as many
# distinct words as REFERENCE_WORDS running words of general English would (measured once as
# the median of -ln(1 - share) / frequency over the words of an archive of 268 papers; no
# labels involved). PRIOR_DOCS: how many papers the reference is worth as evidence on a
# research archive (empirical Bayes: the spread of archive shares around the reference).
REFERENCE_WORDS = 1300.0
PRIOR_DOCS = 5.0
# A word general English uses at least this often (per word) is a word (`known_words`),
# whatever the archive's size: one per million, Zipf 3.
KNOWN_FREQUENCY = 1e-6


@lru_cache(maxsize=200_000)
def word_frequency(word: str) -> float:
    """A folded word's frequency in general English (wordfreq's `small` list: the words
    used at least once per million, enough to tell common words; 0 for the rest, which are
    rare). Cached per word; the list is loaded on first use (~0.3 s, the `best` list's
    ~1 s delayed every command)."""
    from wordfreq import word_frequency as _frequency

    return float(_frequency(word, "en", wordlist="small", minimum=0.0))


@lru_cache(maxsize=200_000)
def reference_share(word: str) -> float:
    """The share of research papers expected to contain `word` (folded), from its general
    English frequency: 1 - exp(-REFERENCE_WORDS * frequency), in [0, 1)."""
    return -math.expm1(-REFERENCE_WORDS * word_frequency(word))


def _short_form(raw: str) -> str | None:
    sf = raw.rstrip("-")
    if sum(ch.isupper() for ch in sf) < 1 or len(sf) < 2:
        return None
    if sf.endswith("s") and sum(ch.isupper() for ch in sf[:-1]) >= 2:
        sf = sf[:-1]  # LLMs -> LLM
    return sf


def best_long_form(short: str, before: str) -> str | None:
    """Schwartz & Hearst (2003): the shortest tail of `before` whose letters spell `short`
    in order, the first letter of `short` starting a word. None when there is none."""
    sf = [ch.lower() for ch in short if ch.isalnum()]
    lf = before
    s, i = len(sf) - 1, len(lf) - 1
    while s >= 0:
        c = sf[s]
        while i >= 0 and (lf[i].lower() != c or (s == 0 and i > 0 and lf[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    start = i + 1
    tail = lf[start:].strip()
    n_words = len(words(tail))
    if n_words < 2 or n_words > min(len(sf) + 5, 2 * len(sf) + 1):
        return None
    return tail


def find_definitions(text: str) -> list[tuple[str, str]]:
    """(short form, long form) pairs defined in `text`, e.g. ("MoE", "Mixture-of-Experts")."""
    found = []
    text = unicodedata.normalize("NFKC", text)
    for m in _PAREN_SF.finditer(text):
        sf = _short_form(m.group(1))
        if sf is None:
            continue
        before = text[: m.start()].rstrip()
        window = " ".join(before.split()[-_MAX_LF_WORDS:])
        lf = best_long_form(sf, window)
        if lf:
            found.append((sf, lf))
    return found


@dataclass(frozen=True)
class Lexicon:
    """Corpus statistics used to understand a subscription. Immutable; build with `build`.

    `df` counts documents per stem, `vocab` occurrences per folded word, `acronyms` maps a
    folded short form to the stem sequences of its long forms with how often each was seen.
    """

    n_docs: int = 0
    df: Mapping[str, int] = field(default_factory=dict)
    vocab: Mapping[str, int] = field(default_factory=dict)
    acronyms: Mapping[str, Mapping[tuple[str, ...], int]] = field(default_factory=dict)
    spelled: Mapping[tuple[str, ...], str] = field(default_factory=dict)

    def spelling(self, stems_: tuple[str, ...]) -> str:
        """How the archive writes a long form given as stems (for explanations)."""
        return self.spelled.get(stems_, " ".join(stems_))

    def idf(self, stem_: str) -> float:
        """Inverse document frequency (> 0) from the posterior share of a stem (see
        `share`): rare stems weigh more, in an archive of any size."""
        return -math.log(self._posterior(stem_, self._surface.get(stem_, stem_))[0])

    def share(self, word: str) -> float:
        """The expected share of papers containing `word` (folded; counted by its stem):
        the posterior mean of a Beta prior centred on `reference_share(word)` worth
        PRIOR_DOCS papers, updated with the archive's document frequency."""
        return self._posterior(stem(word), word)[0]

    def share_bounds(self, word: str, z: float = 1.2816) -> tuple[float, float]:
        """A central credible interval of `share(word)` (normal approximation of the Beta
        posterior; z = 1.28: 80 %). Wide in a small archive, narrow in a large one."""
        mean, sd = self._posterior(stem(word), word)
        return max(0.0, mean - z * sd), min(1.0, mean + z * sd)

    def _posterior(self, stem_: str, word: str) -> tuple[float, float]:
        """Mean and standard deviation of the Beta posterior share of `stem_` (whose
        reference is looked up as `word`), never 0."""
        prior = min(max(reference_share(word), reference_share(stem_)), 0.999)
        a = self.df.get(stem_, 0) + PRIOR_DOCS * prior + 1e-3
        total = self.n_docs + PRIOR_DOCS + 2e-3
        mean = a / total
        return mean, math.sqrt(mean * (1 - mean) / (total + 1))

    @cached_property
    def _surface(self) -> dict[str, str]:
        """Each stem's most frequent word in the archive (for reference look-ups by stem)."""
        best: dict[str, str] = {}
        vocab = self.vocab
        for w, n in vocab.items():
            s = stem(w)
            if n > vocab.get(best.get(s, ""), 0):
                best[s] = w
        return best

    def long_forms(self, short: str) -> list[tuple[str, ...]]:
        """Long forms of a short form, most frequent first, keeping those seen at least a
        fifth as often as the top one (so a stray definition does not hijack an acronym)."""
        key = fold(short)
        forms = self.acronyms.get(key) or (self.acronyms.get(key[:-1]) if key[-1:] == "s" else None)
        if not forms:
            return []
        top = max(forms.values())
        ranked = sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))
        return [lf for lf, n in ranked if n * 5 >= top]

    def short_forms_ending_with(self, head: tuple[str, ...]) -> list[str]:
        """Short forms whose long form is `head` or ends with it, i.e. names a kind of it
        (NMT, neural machine translation, for `machine translation`)."""
        if not head:
            return sorted(sf for sf, forms in self.acronyms.items() if () in forms)
        return list(self._by_tail.get(head, ()))

    @cached_property
    def _by_tail(self) -> dict[tuple[str, ...], tuple[str, ...]]:
        """Every tail of every long form -> the short forms (sorted) whose long form ends so.
        Built on first use, once per lexicon."""
        found: dict[tuple[str, ...], set[str]] = {}
        for sf, forms in self.acronyms.items():
            for lf in forms:
                for n in range(1, len(lf) + 1):
                    found.setdefault(lf[-n:], set()).add(sf)
        return {tail: tuple(sorted(sfs)) for tail, sfs in found.items()}

    @cached_property
    def known_words(self) -> KnownWords:
        """The words seen twice or more, or that general English uses (KNOWN_FREQUENCY):
        where a compound's head counts (`Field.of`), in an archive of any size."""
        return KnownWords(_Known(self.vocab), 2)

    @cached_property
    def caches(self) -> dict[str, object]:
        """What later steps learned with this lexicon and keep with it (analysed papers)."""
        return {}

    @cached_property
    def word_lengths(self) -> frozenset[int]:
        """The lengths of the vocabulary's words."""
        return frozenset(self.words_by_length)

    @cached_property
    def words_by_length(self) -> dict[int, tuple[list[int], list[str]]]:
        """The vocabulary by word length: each word's position in the vocabulary, and the
        word, in vocabulary order (typo repair scores only words of plausible lengths)."""
        out: dict[int, tuple[list[int], list[str]]] = {}
        for i, w in enumerate(self.vocab):
            bucket = out.get(len(w))
            if bucket is None:
                bucket = out[len(w)] = ([], [])
            bucket[0].append(i)
            bucket[1].append(w)
        return out

    @cached_property
    def repairs(self) -> dict[str, str | None]:
        """Typo repairs already worked out against this lexicon (bot.pipeline.query)."""
        return {}


class _Known(Mapping[str, int]):
    """The archive's word counts, where a word of general English counts at least 2."""

    def __init__(self, vocab: Mapping[str, int]) -> None:
        self._vocab = vocab

    def __getitem__(self, word: str) -> int:
        n = self._vocab.get(word, 0)
        if n < 2 and word_frequency(word) >= KNOWN_FREQUENCY:
            return 2
        if n == 0:
            raise KeyError(word)
        return n

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)


def build(papers: Iterable[Paper]) -> Lexicon:
    """Learn a lexicon from papers (titles, abstracts, keywords). Pure; O(total text)."""
    df: Counter[str] = Counter()
    vocab: Counter[str] = Counter()
    acronyms: dict[str, Counter[tuple[str, ...]]] = {}
    spelled: dict[tuple[str, ...], str] = {}
    n = 0
    for p in papers:
        n += 1
        text = f"{p.title}\n{p.abstract}\n{' '.join(p.ai_keywords)}"
        ws = words(text)
        vocab.update(ws)
        df.update(set(map(stem, set(ws))))
        for sf, lf in find_definitions(f"{p.title}. {p.abstract}"):
            key = tuple(stem(w) for w in words(lf))
            acronyms.setdefault(fold(sf), Counter())[key] += 1
            spelled.setdefault(key, " ".join(words(lf)))
    return Lexicon(n, dict(df), dict(vocab), {k: dict(v) for k, v in acronyms.items()}, spelled)
