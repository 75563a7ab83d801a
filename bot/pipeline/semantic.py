"""Evidence that knows what words mean: a topic expanded into the related terms of the
archive's own vocabulary by sentence-embedding neighbours. Pure: the embedding model is
an `Encoder` given from outside (bot.embed with the optional extra `paperboy-bot[semantic]`).

The candidate terms are the word n-grams (1 to `MAX_WORDS` words, not starting or ending
with a stopword) of the papers' titles, keywords and abstracts that occur in at least
`MIN_PAPERS` papers: the archive's vocabulary, not a word list. A topic's related terms
(`Semantic.related`) are the candidates most similar to what the topic means (its typed
text and its full phrasings, e.g. an acronym's long form) with cosine similarity at least
`Tuning.semantic_similarity`, at most `MAX_RELATED` of them. Not a term holding a whole
phrasing of the topic or made only of its words (the lexical evidence counts those), and a
term with some of its words (`multiple tasks`) only when its other words bring it nearer
to the topic than those words alone (`source code` is no nearer to `code generation` than
`code`).
Related terms count as weaker evidence (bot.pipeline.evidence.with_semantic, weight
`Tuning.w_semantic`), chosen like every tunable constant by cross-validation.

Cost: each distinct text is encoded once per `Semantic` (and once per disk cache, see
bot.embed.cache); the candidates of a set of papers are found once, the similarities of a
topic to them once per candidate set.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.models import Paper
from bot.pipeline.query import Concept
from bot.pipeline.text import STOPWORDS, stem, words

MIN_PAPERS = 2  # a candidate term occurs in at least this many papers
MAX_WORDS = 3  # n-grams of up to this many words
MAX_TERMS = 20_000  # the most frequent candidates, whatever the archive's size
MAX_RELATED = 8  # related terms per topic
MAX_CHARS = 12  # a "word" longer than this (hashes, URLs) is no term; nor one with "'"
FLOOR = 0.6  # `Semantic.related(within=...)`: the best neighbour must be at least this similar
MAX_SOURCE_PAPERS = 5_000  # candidates come from at most this many papers (evenly spread)

Vector = Any  # whatever the encoder returns; only the encoder computes with it


class Encoder(Protocol):
    """A sentence-embedding model: unit vectors for texts, and their cosine similarities."""

    def encode(self, texts: Sequence[str]) -> Sequence[Vector]: ...

    def similarities(self, query: Vector, vectors: Sequence[Vector]) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class Related:
    """A term related to a topic: its stems (as matched in a paper), its words, and its
    cosine similarity to the topic."""

    stems: tuple[str, ...]
    label: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Term:
    stems: tuple[str, ...]
    label: str


def _grams(text: str) -> Iterable[tuple[str, ...]]:
    ws = words(text)
    for n in range(1, MAX_WORDS + 1):
        for i in range(len(ws) - n + 1):
            g = ws[i : i + n]
            if g[0] in STOPWORDS or g[-1] in STOPWORDS:
                continue
            if any(len(w) < 2 or len(w) > MAX_CHARS or not w.isalnum() for w in g):
                continue
            yield tuple(g)


def candidate_terms(
    papers: Iterable[Paper], min_papers: int = MIN_PAPERS, limit: int = MAX_TERMS
) -> list[Term]:
    """The n-grams of the papers' titles, keywords and abstracts found in `min_papers`
    papers or more (of `MAX_SOURCE_PAPERS` evenly spread papers when there are more),
    the `limit` most frequent, as stems (one term per stem sequence, labelled with its most
    frequent spelling)."""
    papers = list(papers)
    if len(papers) > MAX_SOURCE_PAPERS:  # bounded cost on a large archive
        step = len(papers) / MAX_SOURCE_PAPERS
        papers = [papers[int(i * step)] for i in range(MAX_SOURCE_PAPERS)]
    df: Counter[tuple[str, ...]] = Counter()
    spellings: dict[tuple[str, ...], Counter[str]] = {}
    for p in papers:
        seen: set[tuple[str, ...]] = set()
        for text in (p.title, *p.ai_keywords, p.abstract):
            for g in _grams(text):
                key = tuple(stem(w) for w in g)
                spellings.setdefault(key, Counter())[" ".join(g)] += 1
                seen.add(key)
        df.update(seen)
    frequent = sorted((k for k, n in df.items() if n >= min_papers), key=lambda k: (-df[k], k))[
        :limit
    ]
    return [Term(k, spellings[k].most_common(1)[0][0]) for k in frequent]


def queries(concept: Concept) -> list[str]:
    """What the topic means, as texts to embed: the typed text and each full-weight
    phrasing (an acronym's long form says more than the acronym)."""
    out = dict.fromkeys([concept.text.strip()])
    for ph in concept.phrases:
        if ph.weight >= 1.0 and ph.short_form is None:
            out.setdefault(ph.label)
    return [q for q in out if q]


class Semantic:
    """Related terms of topics among the candidate terms of sets of papers (or of
    `vocabulary()`), with an `Encoder`. Everything encoded is remembered (texts ->
    vectors), so a term is encoded once however many Matchers, topics and cycles use it.
    Thread-safe."""

    def __init__(
        self,
        encoder: Encoder,
        *,
        max_terms: int = MAX_TERMS,
        vocabulary: Callable[[], Sequence[Paper]] | None = None,
    ) -> None:
        self.encoder = encoder
        self.max_terms = max_terms
        # Where the candidate terms come from: `vocabulary()` (the whole archive, for a
        # digest that matches one day's papers) when given and not empty, else the
        # matcher's own papers.
        self.vocabulary = vocabulary
        self._vectors: dict[str, Vector] = {}
        self._terms: dict[Hashable, list[Term]] = {}
        self._scores: dict[tuple[Hashable, tuple[str, ...]], list[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def vectors(self, texts: Sequence[str]) -> list[Vector]:
        """The vectors of `texts`, encoding (in one batch) only those never seen."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            found = self.encoder.encode(missing)
            with self._lock:
                self._vectors.update(zip(missing, found, strict=True))
        with self._lock:
            return [self._vectors[t] for t in texts]

    def terms(self, papers: Sequence[Paper]) -> tuple[Hashable, list[Term]]:
        """The candidate terms of `papers` (remembered per set of papers), and its key."""
        key = tuple(sorted(p.key for p in papers))
        with self._lock:
            found = self._terms.get(key)
        if found is None:
            found = candidate_terms(papers, limit=self.max_terms)
            with self._lock:
                if len(self._terms) > 8:  # a few sets at a time (a cycle's, an eval's)
                    self._terms.clear()
                    self._scores.clear()
                self._terms[key] = found
        return key, found

    def related(
        self,
        concept: Concept,
        papers: Sequence[Paper],
        similarity: float,
        limit: int = MAX_RELATED,
        *,
        within: float = 0.0,
        floor: float = FLOOR,
    ) -> list[Related]:
        """The terms of `papers` related to `concept` (see `_score`) with similarity at least
        `similarity`, the `limit` most similar first. With `within` > 0 the cut is relative
        to the topic's own neighbours: a term within `within` of the topic's most similar
        term counts too when that one is at least `floor` similar (a topic whose nearest
        terms are all a little below `similarity` still has its nearest ones)."""
        source = self.vocabulary() if self.vocabulary is not None else ()
        key, terms = self.terms(source or papers)
        asked = tuple(queries(concept))
        if not terms or not asked:
            return []
        with self._lock:
            scored = self._scores.get((key, asked))
        if scored is None:
            scored = self._score(concept, terms, asked)
            with self._lock:
                self._scores[(key, asked)] = scored
        cut = similarity
        if within > 0 and scored and scored[0][0] >= floor:
            cut = min(similarity, scored[0][0] - within)
        out: list[Related] = []
        for s, i in scored:
            if s < cut or len(out) == limit:
                break
            out.append(Related(terms[i].stems, terms[i].label, round(s, 4)))
        return out

    def _score(
        self, concept: Concept, terms: Sequence[Term], asked: Sequence[str]
    ) -> list[tuple[float, int]]:
        """(similarity, index) of the terms that may be related to `concept`, most similar
        first. Not a term with a whole phrasing of the topic, or only the topic's words:
        the lexical evidence counts those. A term with some of the topic's words
        (`multiple tasks`, `source code`) only when it is more similar to the topic than
        those words alone (`tasks`, `code`): its other words must bring it nearer."""
        said = [set(ph.stems) for ph in concept.phrases if ph.stems] + [set(concept.core)]
        own = set().union(*said)
        allowed: list[int] = []
        parts: dict[int, str] = {}
        for i, t in enumerate(terms):
            stems_ = set(t.stems)
            if any(w and w <= stems_ for w in said) or stems_ <= own:
                continue
            allowed.append(i)
            if stems_ & own:
                shared = [w for w, s in zip(t.label.split(), t.stems, strict=False) if s in own]
                parts[i] = " ".join(shared)
        texts = [terms[i].label for i in allowed] + sorted(set(parts.values()))
        vectors = dict(zip(texts, self.vectors(texts), strict=True))
        best = dict.fromkeys(texts, 0.0)
        for q in self.vectors(list(asked)):
            sims = self.encoder.similarities(q, [vectors[t] for t in texts])
            for text, s in zip(texts, sims, strict=True):
                best[text] = max(best[text], s)
        out: list[tuple[float, int]] = []
        for i in allowed:
            s = best[terms[i].label]
            if i in parts and s <= best[parts[i]]:
                continue
            out.append((s, i))
        out.sort(key=lambda si: (-si[0], si[1]))
        return out
