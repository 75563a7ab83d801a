"""Evidence: how strongly one paper is about one understood topic, and why. Pure.

A paper is analysed once per lexicon (`Analysed`: its fields' stems, the acronyms it
defines); a topic's evidence in it comes from its phrasings in the title, keywords and
abstract, and from its words apart (`evidence`). bot.pipeline.match decides with it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from bot.models import Paper
from bot.pipeline.field import Field
from bot.pipeline.lexicon import Lexicon, find_definitions
from bot.pipeline.query import Concept, Phrase, fold_topic
from bot.pipeline.semantic import Related
from bot.pipeline.text import STOPWORDS, fold, stems

# Evidence weights. A phrase in the title is the strongest sign a paper is about a topic;
# each abstract mention adds less, up to a cap, so repetition cannot outweigh the title.
W_TITLE = 2.0
W_KEYWORD = 1.0
W_ABSTRACT = 0.6
MAX_ABSTRACT = 6
MAX_ABSTRACT_TOTAL = 0.9 * W_TITLE  # the abstract alone never outweighs the title
W_TITLE_LOOSE = 1.2
W_SENTENCE_LOOSE = 0.35
MAX_LOOSE = 3
W_RELATED = 0.15
MAX_RELATED = 0.3
# Semantic evidence (bot.pipeline.semantic, with the optional extra): related terms of the
# archive's vocabulary at least SEMANTIC_SIMILARITY similar to the topic count W_SEMANTIC in
# the abstract, MAX_SEMANTIC times that in the title or keywords.
SEMANTIC_SIMILARITY = 0.7
W_SEMANTIC = 0.35
MAX_SEMANTIC = 2
# A topic whose nearest terms all fall a little below SEMANTIC_SIMILARITY (the model's
# scale differs from topic to topic) still has those within SEMANTIC_WITHIN of its nearest
# (bot.pipeline.semantic.Semantic.related); a related term in the abstract only counts
# SEMANTIC_ABSTRACT of W_SEMANTIC: 0, since the one thing it could do is lift a passing
# mention of the topic in an abstract about something else over the threshold.
SEMANTIC_WITHIN = 0.02
SEMANTIC_ABSTRACT = 0.0
THRESHOLD = 0.65  # evidence needed for "about": the title, or two abstract mentions, not one


@dataclass(frozen=True, slots=True)
class Tuning:
    """The matcher's tunable constants as one immutable value: the decision threshold and
    the evidence weights above (the defaults are today's values). The counts MAX_ABSTRACT
    and MAX_LOOSE, and the pseudo-relevance feedback constants of bot.pipeline.feedback,
    stay fixed. `Evidence.score` squashes with THRESHOLD whatever the tuning: only the
    ranking's scale, never a selection, depends on it."""

    threshold: float = THRESHOLD
    w_title: float = W_TITLE
    w_keyword: float = W_KEYWORD
    w_abstract: float = W_ABSTRACT
    max_abstract_total: float = MAX_ABSTRACT_TOTAL
    w_title_loose: float = W_TITLE_LOOSE
    w_sentence_loose: float = W_SENTENCE_LOOSE
    w_related: float = W_RELATED
    max_related: float = MAX_RELATED
    semantic_similarity: float = SEMANTIC_SIMILARITY
    w_semantic: float = W_SEMANTIC
    # > 0: also the terms within this of the topic's most similar one (Semantic.related)
    semantic_within: float = SEMANTIC_WITHIN
    # a related term in the abstract only counts this share of w_semantic (0: only the
    # title's and keywords' count, so one can never lift a passing mention)
    semantic_abstract: float = SEMANTIC_ABSTRACT


DEFAULT_TUNING = Tuning()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why one paper matches one topic: an evidence total and human-readable reasons."""

    evidence: float
    reasons: tuple[str, ...]

    @property
    def score(self) -> float:
        """Evidence squashed to [0, 1); THRESHOLD maps to 0.5."""
        return self.evidence / (self.evidence + THRESHOLD)


@dataclass(frozen=True, slots=True)
class Doc:
    paper: Paper
    title: Field
    abstract: Field
    keywords: tuple[Field, ...]
    authors: tuple[str, ...]
    definitions: Mapping[str, frozenset[tuple[str, ...]]]
    title_stems: frozenset[str] = frozenset()  # the stems (not alternatives) of the title
    present: frozenset[str] = frozenset()  # ... of the title and the abstract
    feedback: frozenset[str] = frozenset()  # ... of those, the ones feedback may suggest


def _definitions(p: Paper) -> dict[str, frozenset[tuple[str, ...]]]:
    found: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for sf, lf in find_definitions(f"{p.title}. {p.abstract}"):
        found[fold(sf)].add(tuple(stems(lf)))
    return {k: frozenset(v) for k, v in found.items()}


def analyse(p: Paper, known: Callable[[str], bool]) -> Doc:
    title, abstract = Field.of(p.title, known), Field.of(p.abstract, known)
    title_stems = frozenset(title.stems)
    present = title_stems | frozenset(abstract.stems)
    return Doc(
        p,
        title,
        abstract,
        tuple(Field.of(k) for k in p.ai_keywords),
        tuple(fold(a) for a in p.authors),
        _definitions(p),
        title_stems,
        present,
        frozenset(s for s in present if _feedback_term(s)),
    )


def _feedback_term(s: str) -> bool:
    """Whether pseudo-relevance feedback may suggest stem `s`: a word, not a stopword."""
    return len(s) > 2 and s.isalpha() and s not in STOPWORDS


class Analysed:
    """Papers analysed against one lexicon, kept between Matchers (the least recently used
    go first): archive search re-ranks the same papers query after query. Thread-safe."""

    def __init__(self, known: Callable[[str], bool], size: int = 2_000) -> None:
        self._known = known
        self._size = size
        self._docs: OrderedDict[Paper, Doc] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._docs)

    def doc(self, paper: Paper) -> Doc:
        try:
            hash(paper)
        except TypeError:  # a paper built with lists is unhashable: not remembered
            return analyse(paper, self._known)
        with self._lock:
            doc = self._docs.get(paper)
            if doc is not None:
                self._docs.move_to_end(paper)
                return doc
        doc = analyse(paper, self._known)
        with self._lock:
            self._docs[paper] = doc
            while len(self._docs) > self._size:
                self._docs.popitem(last=False)
        return doc


def analysed(lexicon: Lexicon) -> Analysed:
    """The papers analysed against `lexicon` so far (one cache per lexicon)."""
    cache = lexicon.caches.get("analysed")
    if not isinstance(cache, Analysed):
        cache = lexicon.caches.setdefault("analysed", Analysed(lexicon.known_words))
    assert isinstance(cache, Analysed)
    return cache


def evidence(doc: Doc, concept: Concept, tuning: Tuning = DEFAULT_TUNING) -> Evidence:
    """How strongly `doc` is about `concept`, and why (title, keywords, abstract, loose words)."""
    reasons: list[str] = []
    total = 0.0
    # (an acronym's phrasing may not count here: `_usable`; any other always does)
    phrases = [ph for ph in concept.phrases if ph.short_form is None or _usable(ph, doc, concept)]
    title_hits = _phrase_hits(doc.title, phrases)
    if title_hits:
        best = max(title_hits, key=lambda h: h.weight)
        total += tuning.w_title * best.weight
        reasons.append(f"title: '{best.label}'")
    kw = [ph for k in doc.keywords for ph in phrases if k.find(ph.stems)]
    if kw:
        total += tuning.w_keyword * max(ph.weight for ph in kw)
        reasons.append(f"keywords: '{kw[0].label}'")
    abs_hits = _phrase_hits(doc.abstract, phrases)
    if abs_hits:
        top = sorted((h.weight for h in abs_hits), reverse=True)[:MAX_ABSTRACT]
        total += min(tuning.w_abstract * sum(top), tuning.max_abstract_total)
        labels = ", ".join(dict.fromkeys(f"'{h.label}'" for h in abs_hits))
        reasons.append(f"abstract: {len(abs_hits)}× {labels}")
    if len(concept.core) > 1:
        total += _loose(doc, concept, bool(title_hits), abs_hits, reasons, tuning)
    return Evidence(total, tuple(reasons))


def _usable(ph: Phrase, doc: Doc, concept: Concept) -> bool:
    """Whether an acronym phrasing counts in this paper. Not where the paper defines it
    as something else. The acronym the user typed (3+ letters) counts anywhere else;
    a learned one (or a two-letter one) only where the paper also uses a word of the
    topic, since short acronyms are ambiguous across fields."""
    if ph.short_form is None:
        return True
    sf = _folded(ph.short_form)
    defined = doc.definitions.get(sf)
    if defined is not None:
        return bool(defined & concept.long_forms)
    if len(sf) > 2 and _folded_topic(concept.text) == _folded_topic(sf):
        return True
    present = doc.present
    return any(s in present for s in concept.core)


def _phrase_hits(f: Field, phrases: Iterable[Phrase]) -> list[Phrase]:
    """Occurrences of any phrasing, longest first, never counting a position twice."""
    used: set[int] = set()
    hits: list[Phrase] = []
    vocabulary = f.vocabulary
    for ph in phrases:
        if ph.stems and ph.stems[0] not in vocabulary:
            continue  # not in the field (what `find` says, without the call)
        for start in f.find(ph.stems):
            span = set(range(start, start + len(ph.stems)))
            if any(f.bound.get(i, start) not in span for i in span):
                continue  # inside an `X-of-Y` unit whose head X is not in the phrase
            if not span & used:
                used |= span
                hits.append(ph)
    return hits


def _loose(
    doc: Doc,
    concept: Concept,
    title_phrase: bool,
    abs_hits: list[Phrase],
    reasons: list[str],
    tuning: Tuning,
) -> float:
    """Evidence from the topic's words appearing apart: all in the title, or together in
    one abstract sentence."""
    w = concept.weights
    total = 0.0
    if not title_phrase:
        present = doc.title_stems
        if all(s in present for s in concept.core):
            total += tuning.w_title_loose
            reasons.append("title: " + " + ".join(f"'{s}'" for s in concept.core))
    abstract = doc.abstract
    sentence_of = abstract.sentence_of
    by_sentence: dict[int, set[str]] = defaultdict(set)
    for s in w:
        for i in abstract.stem_positions(s):
            by_sentence[sentence_of[i]].add(s)
    full = sum(1 for found in by_sentence.values() if len(found) == len(concept.core))
    loose = max(0, full - len(abs_hits))
    if loose:
        total += tuning.w_sentence_loose * min(loose, MAX_LOOSE)
        reasons.append(f"abstract: {' + '.join(concept.core)} together in {loose} sentence(s)")
    return total


def with_related(
    doc: Doc, ev: Evidence, related: Sequence[str], tuning: Tuning = DEFAULT_TUNING
) -> Evidence:
    """`ev` with the bonus of the feedback terms `related` the paper has (Matcher)."""
    title, present = doc.title_stems, doc.present
    hits = [s for s in related if s in present]
    if not hits:
        return ev
    bonus = min(tuning.max_related, tuning.w_related * sum(2 if s in title else 1 for s in hits))
    reason = "related words: " + ", ".join(hits[:5])
    return Evidence(ev.evidence + bonus, (*ev.reasons, reason))


def with_semantic(
    doc: Doc, ev: Evidence, related: Sequence[Related], tuning: Tuning = DEFAULT_TUNING
) -> Evidence:
    """`ev` with the bonus of the semantically related terms (bot.pipeline.semantic) the
    paper has: twice `Tuning.w_semantic` when one is in the title or keywords, else once
    when one is in the abstract. However many related terms it has, a paper gets one
    bonus: they are neighbours of one topic, often overlapping (`program`, `program
    synthesis`), not independent signs."""
    if tuning.w_semantic <= 0:
        return ev
    title = [
        r for r in related if doc.title.find(r.stems) or any(k.find(r.stems) for k in doc.keywords)
    ]
    found = title or (
        [r for r in related if doc.abstract.find(r.stems)] if tuning.semantic_abstract > 0 else []
    )
    if not found:
        return ev
    bonus = tuning.w_semantic * (MAX_SEMANTIC if title else tuning.semantic_abstract)
    where = "title" if title else "abstract"
    terms = ", ".join(f"'{r.label}' ({r.similarity:.2f})" for r in found[:3])
    return Evidence(ev.evidence + bonus, (*ev.reasons, f"related in meaning ({where}): {terms}"))


def evidence_key(concept: Concept) -> Hashable:
    """Everything of `concept` that a paper's evidence depends on (see `evidence`): equal
    keys, equal evidence. The typed text counts only as "was this acronym typed"."""
    typed = _folded_topic(concept.text)
    return (
        concept.phrases,
        concept.core,
        tuple(sorted(concept.weights.items())),
        concept.long_forms,
        tuple(
            ph.short_form is not None
            and len(sf := _folded(ph.short_form)) > 2
            and typed == _folded_topic(sf)
            for ph in concept.phrases
        ),
    )


@lru_cache(maxsize=4096)
def _folded(text: str) -> str:
    return fold(text)


@lru_cache(maxsize=4096)
def _folded_topic(text: str) -> str:
    return fold_topic(text)
