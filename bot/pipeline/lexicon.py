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

import bisect
import heapq
import math
import multiprocessing
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import islice
from typing import Any

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
        window = " ".join(before.rsplit(None, _MAX_LF_WORDS)[-_MAX_LF_WORDS:])
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
    # The stems of vocabulary words, where known already (a cache: `_surface` stems each
    # word otherwise, seconds for a large vocabulary). Not part of what the lexicon is.
    stems: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

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
        vocab, stems = self.vocab, self.stems
        for w, n in vocab.items():
            s = stems.get(w) or stem(w)
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


# The layout of `Tally.dump`; counts saved in another are counted again.
FORMAT = 2
# `build` counts at least this many papers in up to COUNT_WORKERS processes (one per core):
# below it starting a process costs more than it saves.
PARALLEL_FROM = 20_000
COUNT_WORKERS = 4
COUNT_BATCH = 25_000
Position = tuple[int, int]
"""Where an item was first seen: (paper id, index in that paper's words or definitions)."""
Pair = tuple[str, tuple[str, ...]]
"""(folded short form, long form stems): one acronym definition."""
Spelling = tuple[tuple[str, ...], str]
"""(long form stems, how a paper spelled it)."""
PaperText = tuple[int, str, str, Sequence[str]]
"""(paper id, title, abstract, keywords): what the lexicon learns from a paper."""


def _texts(title: str, abstract: str, keywords: Iterable[str]) -> tuple[str, str]:
    """A paper's text for words, and its text for definitions (as `build` always read them)."""
    return f"{title}\n{abstract}\n{' '.join(keywords)}", f"{title}. {abstract}"


class _Stems(dict[str, str]):
    """Folded word -> stem, each word stemmed once (`map(stems.__getitem__, ...)` in C)."""

    def __missing__(self, word: str) -> str:
        found = self[word] = stem(word)
        return found


def _definitions(text: str) -> list[tuple[Pair, str]]:
    """Each definition in `text`: ((folded short form, long form stems), spelling)."""
    out = []
    for sf, lf in find_definitions(text):
        lf_words = words(lf)
        out.append(((fold(sf), tuple(stem(w) for w in lf_words)), " ".join(lf_words)))
    return out


def _first_index(ws: list[str]) -> dict[str, int]:
    """Each distinct word of `ws` -> the index of its first occurrence."""
    at: dict[str, int] = {}
    for i, w in enumerate(ws):
        at.setdefault(w, i)
    return at


class Tally:
    """The counts a Lexicon is made of, kept up to date paper by paper.

    `add` counts a paper's text under its id, `remove` takes back the text it was counted
    with (the paper was updated or deleted), `lexicon()` makes the Lexicon: exactly the one
    `build` learns from the same texts in id order, the order of its dictionaries included.
    Each item remembers where it was first seen (`Position`); an item whose first paper
    lost it while other papers still have it is an orphan until `resolve` re-reads the
    papers from that one on. Not thread-safe: one writer; `lexicon()` is a snapshot.
    """

    def __init__(self) -> None:
        self.n_docs = 0
        self.df: Counter[str] = Counter()
        self.vocab: Counter[str] = Counter()  # first-seen order, but for `_moved` words
        self.vocab_first: dict[str, Position] = {}
        self.pairs: dict[Pair, int] = {}
        self.pair_first: dict[Pair, Position] = {}
        self.spellings: dict[Spelling, int] = {}
        self.spelling_first: dict[Spelling, Position] = {}
        self.last_id = -1  # the highest paper id counted by `add`
        self._moved: set[str] = set()  # words whose first-seen position moved
        self._was: dict[str, Position] = {}  # orphaned words: where they were first seen
        self._orphans: dict[str, dict[Any, int]] = {"vocab": {}, "pairs": {}, "spellings": {}}
        self._stems = _Stems()

    # --- counting -------------------------------------------------------------------------

    def add(self, pid: int, title: str, abstract: str, keywords: Iterable[str]) -> None:
        """Count one paper's text as paper `pid`."""
        text, defs = _texts(title, abstract, keywords)
        ws = words(text)
        self.n_docs += 1
        vocab, first = self.vocab, self.vocab_first
        if pid > self.last_id:  # the common case: a paper newer than every counted one
            size = len(vocab)
            vocab.update(ws)  # new words are appended, in the order this paper has them
            for w in islice(reversed(vocab), len(vocab) - size):
                first[w] = (pid, ws.index(w))
            self.last_id = pid
            orphans = self._orphans["vocab"]
            if orphans:  # seen here, until `resolve` finds them earlier
                for w in orphans.keys() & set(ws):
                    self._seat(first, w, (pid, ws.index(w)))
        else:  # an older paper's new text: a word may now be first seen here
            vocab.update(ws)
            orphans = self._orphans["vocab"]
            for w, i in _first_index(ws).items():
                if self._seat(first, w, (pid, i)) and w not in orphans:
                    self._moved.add(w)  # (an orphan's move is judged once it is seated)
        df = self.df
        df.update(set(map(self._stems.__getitem__, set(ws))))
        for k, (pair, spelling) in enumerate(_definitions(defs)):
            self.pairs[pair] = self.pairs.get(pair, 0) + 1
            self._seat(self.pair_first, pair, (pid, k))
            key = (pair[1], spelling)
            self.spellings[key] = self.spellings.get(key, 0) + 1
            self._seat(self.spelling_first, key, (pid, k))

    def _seat(self, first: dict[Any, Position], item: Any, at: Position) -> bool:
        """`at` is where `item` is seen: its first position when earlier than the known one
        (True then)."""
        known = first.get(item)
        if known is None or at < known:
            first[item] = at
            return True
        return False

    def remove(self, pid: int, title: str, abstract: str, keywords: Iterable[str]) -> None:
        """Take back the text paper `pid` was counted with (`add` with the same text)."""
        text, defs = _texts(title, abstract, keywords)
        ws = words(text)
        self.n_docs -= 1
        vocab, first = self.vocab, self.vocab_first
        for w, n in Counter(ws).items():
            self._drop(vocab, first, "vocab", w, n, pid)
        df = self.df
        for s in set(map(self._stems.__getitem__, set(ws))):
            df[s] -= 1
            if df[s] <= 0:
                del df[s]
        for pair, spelling in _definitions(defs):
            self._drop(self.pairs, self.pair_first, "pairs", pair, 1, pid)
            key = (pair[1], spelling)
            self._drop(self.spellings, self.spelling_first, "spellings", key, 1, pid)

    def _drop(
        self, counts: dict[Any, int], first: dict[Any, Position], kind: str, item: Any, n: int,
        pid: int,
    ) -> None:  # fmt: skip
        left = counts[item] - n
        orphans = self._orphans[kind]
        if left <= 0:
            del counts[item]
            first.pop(item, None)
            orphans.pop(item, None)
            self._moved.discard(item)
            self._was.pop(item, None)
        else:
            counts[item] = left
            at = first.get(item)
            if at is not None and at[0] == pid:  # first seen in this paper: seen later now
                del first[item]
                orphans[item] = pid
                if kind == "vocab":
                    self._was[item] = at

    def extend(self, later: Tally) -> None:
        """Count `later`'s papers after these: every paper it counted has a higher id than
        every paper counted here (a count split by id ranges, merged in order)."""
        if any(later._orphans.values()) or any(self._orphans.values()):
            raise ValueError("orphans wait for `resolve`")
        later._order_vocab()
        self.n_docs += later.n_docs
        self.df.update(later.df)
        vocab, first, their_first = self.vocab, self.vocab_first, later.vocab_first
        for w, n in later.vocab.items():
            if w in vocab:
                vocab[w] += n
            else:  # first seen there: after every word seen here
                vocab[w] = n
                first[w] = their_first[w]
        for pair, n in later.pairs.items():
            self.pairs[pair] = self.pairs.get(pair, 0) + n
            self.pair_first.setdefault(pair, later.pair_first[pair])
        for key, n in later.spellings.items():
            self.spellings[key] = self.spellings.get(key, 0) + n
            self.spelling_first.setdefault(key, later.spelling_first[key])
        self.last_id = max(self.last_id, later.last_id)
        self._stems.update(later._stems)

    # --- orphans --------------------------------------------------------------------------

    def _firsts(self) -> dict[str, dict[Any, Position]]:
        return {
            "vocab": self.vocab_first,
            "pairs": self.pair_first,
            "spellings": self.spelling_first,
        }

    def _settle(self) -> None:
        """Seat the orphans `add` saw again at or before the paper that lost them: no
        earlier paper has them, so that position is their first."""
        firsts = self._firsts()
        for kind, orphaned in self._orphans.items():
            first = firsts[kind]
            for item in [
                i for i, bound in orphaned.items() if (first.get(i) or (bound + 1,))[0] <= bound
            ]:
                del orphaned[item]
                if kind == "vocab":
                    self._reseated(item)

    def _reseated(self, word: str) -> None:
        """An orphaned word has its first position again: moved unless it is the same."""
        if self.vocab_first[word] != self._was.pop(word, None):
            self._moved.add(word)

    def orphaned_from(self) -> int | None:
        """The id from which `resolve` must re-read papers, or None when there are no orphans."""
        self._settle()
        starts = [min(o.values()) for o in self._orphans.values() if o]
        return min(starts) if starts else None

    def resolve(self, papers: Iterable[PaperText]) -> None:
        """Re-seat the orphans: `papers` are the archived papers from `orphaned_from()` on,
        in id order, as counted (it stops reading once every orphan is seated)."""
        self._settle()
        orphans = self._orphans
        pending: dict[str, dict[Any, Position | None]] = {
            kind: {item: None for item in items} for kind, items in orphans.items()
        }
        firsts = self._firsts()
        for kind, items in pending.items():  # positions seen meanwhile (by `add`)
            for item in items:
                items[item] = firsts[kind].get(item)
        seated: dict[str, dict[Any, Position | None]] = {kind: {} for kind in pending}
        for pid, title, abstract, keywords in papers:
            for kind, items in pending.items():  # seated: nothing later comes first
                for item in [i for i, at in items.items() if at is not None and at[0] < pid]:
                    seated[kind][item] = items.pop(item)
            if not any(pending.values()):
                break
            text, defs = _texts(title, abstract, keywords)
            if pending["vocab"]:
                ws = words(text)
                items = pending["vocab"]
                for w in items.keys() & set(ws):
                    at = (pid, ws.index(w))
                    if items[w] is None or at < items[w]:  # type: ignore[operator]
                        items[w] = at
            if pending["pairs"] or pending["spellings"]:
                for k, (pair, spelling) in enumerate(_definitions(defs)):
                    for kind, item in (("pairs", pair), ("spellings", (pair[1], spelling))):
                        if item in pending[kind]:
                            seen = pending[kind][item]
                            if seen is None or (pid, k) < seen:
                                pending[kind][item] = (pid, k)
        for kind, orphaned in orphans.items():
            for item in orphaned:
                found = seated[kind].get(item) or pending[kind].get(item)
                if found is None:
                    raise ValueError(f"{kind} {item!r} is counted but in no paper read")
                firsts[kind][item] = found
                if kind == "vocab":
                    self._reseated(item)
            orphaned.clear()

    # --- the lexicon ----------------------------------------------------------------------

    def _order_vocab(self) -> None:
        """Put the moved words back in first-seen order (a merge: the others are in order)."""
        if not self._moved:
            return
        moved, first, vocab = self._moved, self.vocab_first, self.vocab
        order = [w for w in vocab if w not in moved]
        if len(moved) * 20 < len(order):  # a few: each inserted where it belongs
            for w in sorted(moved, key=first.__getitem__):
                order.insert(bisect.bisect(order, first[w], key=first.__getitem__), w)
        else:
            back = sorted(moved, key=first.__getitem__)
            order = list(heapq.merge(order, back, key=first.__getitem__))
        self.vocab = Counter({w: vocab[w] for w in order})
        self._moved = set()

    def lexicon(self) -> Lexicon:
        """The Lexicon of the texts counted (a snapshot). ValueError while orphans wait."""
        self._settle()
        if any(self._orphans.values()):
            raise ValueError("orphans wait for `resolve`")
        self._order_vocab()
        acronyms: dict[str, dict[tuple[str, ...], int]] = {}
        for sf, lf in sorted(self.pairs, key=self.pair_first.__getitem__):
            acronyms.setdefault(sf, {})[lf] = self.pairs[(sf, lf)]
        spelled: dict[tuple[str, ...], str] = {}
        for lf, spelling in sorted(self.spellings, key=self.spelling_first.__getitem__):
            spelled.setdefault(lf, spelling)
        return Lexicon(
            self.n_docs, dict(self.df), dict(self.vocab), acronyms, spelled, stems=self._stems
        )

    # --- persistence ----------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The counts as flat JSON-ready lists, one per column (`load` reads them back)."""
        self._settle()
        if any(self._orphans.values()):
            raise ValueError("orphans wait for `resolve`")
        self._order_vocab()
        pair_first = [self.pair_first[p] for p in self.pairs]
        spelling_first = [self.spelling_first[k] for k in self.spellings]
        vocab_first = list(self.vocab_first[w] for w in self.vocab)
        stems = self._stems
        return {
            "format": FORMAT,
            "n_docs": self.n_docs,
            "last_id": self.last_id,
            "vocab": list(self.vocab),
            "vocab_stem": [stems[w] for w in self.vocab],
            "vocab_n": list(self.vocab.values()),
            "vocab_id": [p for p, _ in vocab_first],
            "vocab_at": [i for _, i in vocab_first],
            "df": list(self.df),
            "df_n": list(self.df.values()),
            "pair_sf": [sf for sf, _ in self.pairs],
            "pair_lf": [" ".join(lf) for _, lf in self.pairs],
            "pair_n": list(self.pairs.values()),
            "pair_id": [p for p, _ in pair_first],
            "pair_at": [i for _, i in pair_first],
            "spelling_lf": [" ".join(lf) for lf, _ in self.spellings],
            "spelling": [sp for _, sp in self.spellings],
            "spelling_n": list(self.spellings.values()),
            "spelling_id": [p for p, _ in spelling_first],
            "spelling_at": [i for _, i in spelling_first],
        }

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Tally:
        """The Tally `dump` described (stems hold no spaces: long forms travel joined).
        ValueError for counts of another FORMAT."""
        if data.get("format") != FORMAT:
            raise ValueError(f"saved counts of format {data.get('format')!r}, not {FORMAT}")
        tally = cls()
        tally.n_docs, tally.last_id = int(data["n_docs"]), int(data["last_id"])
        words_ = data["vocab"]
        tally._stems.update(zip(words_, data["vocab_stem"], strict=True))
        tally.vocab = Counter(dict(zip(words_, data["vocab_n"], strict=True)))
        tally.vocab_first = dict(zip(words_, _positions(data, "vocab"), strict=True))
        tally.df = Counter(dict(zip(data["df"], data["df_n"], strict=True)))
        lfs = [tuple(lf.split(" ")) if lf else () for lf in data["pair_lf"]]
        pairs = list(zip(data["pair_sf"], lfs, strict=True))
        tally.pairs = dict(zip(pairs, data["pair_n"], strict=True))
        tally.pair_first = dict(zip(pairs, _positions(data, "pair"), strict=True))
        lfs = [tuple(lf.split(" ")) if lf else () for lf in data["spelling_lf"]]
        keys = list(zip(lfs, data["spelling"], strict=True))
        tally.spellings = dict(zip(keys, data["spelling_n"], strict=True))
        tally.spelling_first = dict(zip(keys, _positions(data, "spelling"), strict=True))
        return tally


def _positions(data: Mapping[str, Any], kind: str) -> list[Position]:
    return list(zip(data[f"{kind}_id"], data[f"{kind}_at"], strict=True))


def count(texts: Sequence[PaperText]) -> Tally:
    """`texts` (in id order) counted in one process."""
    tally = Tally()
    for pid, title, abstract, keywords in texts:
        tally.add(pid, title, abstract, keywords)
    return tally


def count_in_parallel(texts: Sequence[PaperText], workers: int) -> Tally:
    """`texts` (in id order) counted by `workers` processes at once: this one counts the
    first 1/`workers`, spawned ones (no fork of a threaded service) the rest in runs of
    COUNT_BATCH papers (a few in flight at a time: memory stays bounded), merged in order:
    the Tally `count` makes. Counted here alone when no process can be started."""
    own = -(-len(texts) // max(workers, 1))
    rest = range(own, len(texts), COUNT_BATCH)
    if workers < 2 or not rest:
        return count(texts)
    try:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers - 1, mp_context=spawn) as pool:
            later = [pool.submit(count, texts[lo : lo + COUNT_BATCH]) for lo in rest]
            tally = count(texts[:own])
            for future in later:
                tally.extend(future.result())
        return tally
    except (BrokenProcessPool, OSError, RuntimeError):
        return count(texts)


def build(papers: Iterable[Paper], *, parallel_from: int = PARALLEL_FROM) -> Lexicon:
    """Learn a lexicon from papers (titles, abstracts, keywords). O(total text); from
    `parallel_from` papers on counted in one process per core (COUNT_WORKERS at most): the
    same lexicon either way."""
    texts = [(i, p.title, p.abstract, p.ai_keywords) for i, p in enumerate(papers)]
    workers = min(os.cpu_count() or 1, COUNT_WORKERS) if len(texts) >= parallel_from else 1
    return (count_in_parallel(texts, workers) if workers > 1 else count(texts)).lexicon()
