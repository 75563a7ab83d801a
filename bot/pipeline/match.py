"""Relevance: how strongly a paper is *about* a subscription, with the evidence that says so.

Pure. A `Matcher` indexes a set of papers once (per digest cycle) and evaluates each
distinct topic once, whatever the number of channels following it.
"""

from __future__ import annotations

import heapq
import math
import threading
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import itemgetter

from rapidfuzz import fuzz

from bot.models import Paper, Profile
from bot.pipeline.lexicon import Lexicon, find_definitions
from bot.pipeline.query import Concept, Phrase, fold_topic, understand
from bot.pipeline.text import STOPWORDS, Field, fold, stems

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
SEED_EVIDENCE = 1.2
MIN_SEEDS = 3
RELATED_SUPPORT = 0.2
RELATED_LIFT = 2.0
RELATED_TERMS = 10
W_RELATED = 0.15
MAX_RELATED = 0.3
THRESHOLD = 0.65  # evidence needed for "about": the title, or two abstract mentions, not one
AUTHOR_SIMILARITY = 92.0


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
class Match:
    """A paper selected for a profile: the best topic score, every matching topic, reasons."""

    paper: Paper
    score: float
    topics: tuple[str, ...]
    reasons: tuple[str, ...]


RankKey = tuple[float, int, float, str]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one paper against one profile, matched or not (for `why`)."""

    paper: Paper
    matched: bool
    score: float
    topics: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    excluded_by: str | None = None
    best_topic: str | None = None


@dataclass(frozen=True, slots=True)
class _Doc:
    paper: Paper
    title: Field
    abstract: Field
    keywords: tuple[Field, ...]
    authors: tuple[str, ...]
    definitions: Mapping[str, frozenset[tuple[str, ...]]]
    title_stems: frozenset[str] = frozenset()  # the stems (not alternatives) of the title
    present: frozenset[str] = frozenset()  # ... of the title and the abstract
    feedback: frozenset[str] = frozenset()  # ... of those, the ones feedback may suggest


def _find(f: Field, phrase: tuple[str, ...]) -> list[int]:
    """Start positions of `phrase` (contiguous stems) in field `f`."""
    return f.find(phrase)


def _definitions(p: Paper) -> dict[str, frozenset[tuple[str, ...]]]:
    found: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for sf, lf in find_definitions(f"{p.title}. {p.abstract}"):
        found[fold(sf)].add(tuple(stems(lf)))
    return {k: frozenset(v) for k, v in found.items()}


def _analyse(p: Paper, known: Callable[[str], bool]) -> _Doc:
    title, abstract = Field.of(p.title, known), Field.of(p.abstract, known)
    title_stems = frozenset(title.stems)
    present = title_stems | frozenset(abstract.stems)
    return _Doc(
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
        self._docs: OrderedDict[Paper, _Doc] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._docs)

    def doc(self, paper: Paper) -> _Doc:
        try:
            hash(paper)
        except TypeError:  # a paper built with lists is unhashable: not remembered
            return _analyse(paper, self._known)
        with self._lock:
            doc = self._docs.get(paper)
            if doc is not None:
                self._docs.move_to_end(paper)
                return doc
        doc = _analyse(paper, self._known)
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


@dataclass
class Matcher:
    """Relevance of `papers` to any number of topics and profiles. Build once per cycle.
    Analysed papers are remembered with the lexicon, for later Matchers (`Analysed`)."""

    papers: Sequence[Paper]
    lexicon: Lexicon
    threshold: float = THRESHOLD
    _docs: list[_Doc] = field(init=False)
    _postings: dict[str, set[int]] = field(init=False)
    _cache: dict[str, dict[int, Evidence]] = field(init=False, default_factory=dict)
    _concepts: dict[str, Concept] = field(init=False, default_factory=dict)
    _by_concept: dict[Hashable, dict[int, Evidence]] = field(init=False, default_factory=dict)
    _keys: dict[str, str] = field(init=False, default_factory=dict)
    _selected: dict[str, frozenset[int]] = field(init=False, default_factory=dict)
    _by_key: dict[str, int] = field(init=False, default_factory=dict)
    _tables: dict[tuple[str, bool], dict[int, tuple[int, Match]]] = field(
        init=False, default_factory=dict
    )
    _combos: dict[tuple[int, ...], tuple[int, Match]] = field(init=False, default_factory=dict)
    _complete: set[tuple[str, bool]] = field(init=False, default_factory=set)
    _rankings: dict[str, list[tuple[int, int]]] = field(init=False, default_factory=dict)
    _outside: dict[tuple[datetime, datetime], frozenset[int]] = field(
        init=False, default_factory=dict
    )
    _by_time: tuple[list[datetime], list[int]] | None = field(init=False, default=None)
    _places: list[int] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._docs = []
        postings: dict[str, set[int]] = {}
        cache = analysed(self.lexicon)
        for i, p in enumerate(self.papers):
            doc = cache.doc(p)
            self._docs.append(doc)
            self._by_key.setdefault(p.key, i)
            for f in (doc.title, doc.abstract, *doc.keywords):
                for s in f.words():
                    if s in postings:
                        postings[s].add(i)
                    else:
                        postings[s] = {i}
        self._postings = postings

    def _key(self, topic: str) -> str:
        key = self._keys.get(topic)
        if key is None:
            key = self._keys[topic] = fold_topic(topic)
        return key

    def concept(self, topic: str) -> Concept:
        key = self._key(topic)
        if key not in self._concepts:
            self._concepts[key] = understand(topic, self.lexicon)
        return self._concepts[key]

    def _candidates(self, concept: Concept) -> list[int]:
        """The papers that can have evidence: those with every stem of some phrasing, or
        (for a topic of several words, which counts them apart) every stem of the core.
        In index order."""
        postings, empty = self._postings, set[int]()
        candidates: set[int] = set()
        groups = [ph.stems for ph in concept.phrases]
        if len(concept.core) > 1:
            groups.append(concept.core)
        for group in groups:
            sets = sorted((postings.get(s, empty) for s in group), key=len)
            if sets and sets[0]:
                candidates |= sets[0].intersection(*sets[1:])
        return sorted(candidates)

    def topic_evidence(self, topic: str) -> dict[int, Evidence]:
        """Evidence per paper index for every paper with any evidence for `topic` (cached)."""
        key = self._key(topic)
        if key in self._cache:
            return self._cache[key]
        concept = self.concept(topic)
        same = _evidence_key(concept)  # topics typed differently, understood alike
        shared = self._by_concept.get(same)
        if shared is not None:
            self._cache[key] = shared
            return shared
        out = {}
        for i in self._candidates(concept):
            ev = self._evidence(self._docs[i], concept)
            if ev.evidence > 0:
                out[i] = ev
        related = self._related_terms(concept, out)
        if related:
            for i, ev in out.items():
                if ev.evidence < self.threshold:
                    out[i] = self._with_related(self._docs[i], ev, related)
        self._cache[key] = self._by_concept[same] = out
        return out

    def _related_terms(self, concept: Concept, found: Mapping[int, Evidence]) -> list[str]:
        """Pseudo-relevance feedback: stems over-represented in the papers that are clearly
        about the topic (standard Rocchio-style expansion, learned from these papers)."""
        seeds = [i for i, ev in found.items() if ev.evidence >= SEED_EVIDENCE]
        if len(seeds) < MIN_SEEDS:
            return []
        own = {s for ph in concept.phrases for s in ph.stems}
        counts: Counter[str] = Counter()
        for i in seeds:
            counts.update(self._docs[i].feedback)
        n = len(self._docs)
        scored = []
        for s, a in counts.items():
            if a < max(MIN_SEEDS, RELATED_SUPPORT * len(seeds)) or s in own:
                continue
            lift = (a / len(seeds)) / (len(self._postings[s]) / n)
            if lift >= RELATED_LIFT:
                scored.append((a * math.log(lift), s))
        return [s for _, s in sorted(scored, reverse=True)[:RELATED_TERMS]]

    @staticmethod
    def _with_related(doc: _Doc, ev: Evidence, related: Sequence[str]) -> Evidence:
        title, present = doc.title_stems, doc.present
        hits = [s for s in related if s in present]
        if not hits:
            return ev
        bonus = min(MAX_RELATED, W_RELATED * sum(2 if s in title else 1 for s in hits))
        reason = "related words: " + ", ".join(hits[:5])
        return Evidence(ev.evidence + bonus, (*ev.reasons, reason))

    def _evidence(self, doc: _Doc, concept: Concept) -> Evidence:
        reasons: list[str] = []
        total = 0.0
        phrases = [ph for ph in concept.phrases if self._usable(ph, doc, concept)]
        title_hits = self._phrase_hits(doc.title, phrases)
        if title_hits:
            best = max(title_hits, key=lambda h: h.weight)
            total += W_TITLE * best.weight
            reasons.append(f"title: '{best.label}'")
        kw = [ph for k in doc.keywords for ph in phrases if _find(k, ph.stems)]
        if kw:
            total += W_KEYWORD * max(ph.weight for ph in kw)
            reasons.append(f"keywords: '{kw[0].label}'")
        abs_hits = self._phrase_hits(doc.abstract, phrases)
        if abs_hits:
            top = sorted((h.weight for h in abs_hits), reverse=True)[:MAX_ABSTRACT]
            total += min(W_ABSTRACT * sum(top), MAX_ABSTRACT_TOTAL)
            labels = ", ".join(dict.fromkeys(f"'{h.label}'" for h in abs_hits))
            reasons.append(f"abstract: {len(abs_hits)}× {labels}")
        if len(concept.core) > 1:
            total += self._loose(doc, concept, bool(title_hits), abs_hits, reasons)
        return Evidence(total, tuple(reasons))

    @staticmethod
    def _usable(ph: Phrase, doc: _Doc, concept: Concept) -> bool:
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

    @staticmethod
    def _phrase_hits(f: Field, phrases: Iterable[Phrase]) -> list[Phrase]:
        """Occurrences of any phrasing, longest first, never counting a position twice."""
        used: set[int] = set()
        hits: list[Phrase] = []
        for ph in phrases:
            for start in _find(f, ph.stems):
                span = set(range(start, start + len(ph.stems)))
                if any(f.bound.get(i, start) not in span for i in span):
                    continue  # inside an `X-of-Y` unit whose head X is not in the phrase
                if not span & used:
                    used |= span
                    hits.append(ph)
        return hits

    def _loose(
        self,
        doc: _Doc,
        concept: Concept,
        title_phrase: bool,
        abs_hits: list[Phrase],
        reasons: list[str],
    ) -> float:
        """Evidence from the topic's words appearing apart: all in the title, or together in
        one abstract sentence."""
        w = concept.weights
        total = 0.0
        if not title_phrase:
            present = doc.title_stems
            if all(s in present for s in concept.core):
                total += W_TITLE_LOOSE
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
            total += W_SENTENCE_LOOSE * min(loose, MAX_LOOSE)
            reasons.append(f"abstract: {' + '.join(concept.core)} together in {loose} sentence(s)")
        return total

    def verdict(self, profile: Profile, index: int) -> Verdict:
        """The full decision for one paper (matched or not, and why)."""
        doc = self._docs[index]
        best: tuple[float, str | None] = (0.0, None)
        topics: list[str] = []
        reasons: list[str] = []
        score = 0.0
        for topic in profile.topics:
            ev = self.topic_evidence(topic).get(index)
            if ev is None:
                continue
            if ev.score > best[0]:
                best = (ev.score, topic)
            if ev.evidence >= self.threshold:
                topics.append(topic)
                many = len(profile.topics) > 1
                reasons += [f"{topic}: {r}" if many else r for r in ev.reasons]
                score = max(score, ev.score)
        author = self._author_hit(doc, profile.authors)
        if author:
            topics.append(f"author {author}")
            reasons.append(f"author: {author}")
            score = max(score, 0.9)
        excluded = self._excluded_by(profile.exclude, index) if topics else None
        return Verdict(
            doc.paper,
            matched=bool(topics) and excluded is None,
            score=score if topics else best[0],
            topics=tuple(topics),
            reasons=tuple(reasons),
            excluded_by=excluded,
            best_topic=best[1],
        )

    def _author_hit(self, doc: _Doc, wanted: Sequence[str]) -> str | None:
        for name in wanted:
            f = fold(name)
            if any(fuzz.token_sort_ratio(f, a) >= AUTHOR_SIMILARITY for a in doc.authors):
                return name
        return None

    def _excluded_by(self, terms: Sequence[str], index: int) -> str | None:
        """An exclusion applies when the term is in the title or keywords, or the paper is
        about it (the same evidence threshold as a subscription)."""
        for term in terms:
            ev = self.topic_evidence(term).get(index)
            if ev is None:
                continue
            if ev.evidence >= self.threshold or ev.reasons[0].startswith(("title", "keyword")):
                return term
        return None

    def selected(self, topic: str) -> frozenset[int]:
        """Indexes of the papers about `topic` (evidence at the threshold or above)."""
        key = self._key(topic)
        found = self._selected.get(key)
        if found is None:
            evidence = self.topic_evidence(topic)
            found = frozenset(i for i, ev in evidence.items() if ev.evidence >= self.threshold)
            self._selected[key] = found
        return found

    def excluded(self, term: str) -> frozenset[int]:
        """Indexes of the papers an exclusion `term` drops (see `_excluded_by`)."""
        key = "\0exclude\0" + self._key(term)
        found = self._selected.get(key)
        if found is None:
            found = frozenset(
                i
                for i, ev in self.topic_evidence(term).items()
                if ev.evidence >= self.threshold or ev.reasons[0].startswith(("title", "keyword"))
            )
            self._selected[key] = found
        return found

    def _order(self, score: float, index: int) -> int:
        """An int that sorts as `rank_key` sorts the Match of paper `index` with `score`:
        the score rounded as rank_key rounds it, then the paper's place among the papers
        by upvotes, recency and key."""
        if self._places is None:
            tails = [rank_key(Match(d.paper, 0.0, (), ()))[1:] for d in self._docs]
            order = sorted(range(len(tails)), key=tails.__getitem__)
            places = [0] * len(order)
            for place, i in enumerate(order):
                places[i] = place
            self._places = places
        return -round(round(score, 6) * 1_000_000) * len(self._docs) + self._places[index]

    def _singles(self, topic: str, many: bool) -> dict[int, tuple[int, Match]]:
        """`_single` of every paper `topic` selects."""
        key = (topic, many)
        if key not in self._complete:
            for i in self.selected(topic):
                self._single(topic, many, i)
            self._complete.add(key)
        return self._tables.setdefault(key, {})

    def _single(self, topic: str, many: bool, i: int) -> tuple[int, Match]:
        """The Match (with its `_order`) of paper `i`, which `topic` selects, as `verdict`
        makes it for a profile where no other topic or author selects the paper. Matches
        are immutable: every channel following `topic` shares them."""
        table = self._tables.setdefault((topic, many), {})
        found = table.get(i)
        if found is None:
            ev = self.topic_evidence(topic)[i]
            reasons = tuple(f"{topic}: {r}" for r in ev.reasons) if many else ev.reasons
            score = max(0.0, ev.score)
            m = Match(self._docs[i].paper, score, (topic,), reasons)
            found = table[i] = (self._order(score, i), m)
        return found

    def _combined(self, group: list[tuple[int, Match]]) -> tuple[int, Match]:
        """One paper's Matches from several topics as one: every topic and its reasons in
        profile order, the best score (whose order is the smallest). Shared as well."""
        key = tuple(id(m) for _, m in group)
        found = self._combos.get(key)
        if found is None:
            m = Match(
                group[0][1].paper,
                max(g.score for _, g in group),
                tuple(t for _, g in group for t in g.topics),
                tuple(r for _, g in group for r in g.reasons),
            )
            found = self._combos[key] = (min(order for order, _ in group), m)
        return found

    def match(self, profile: Profile) -> list[Match]:
        """Papers the profile selects, best first (score, then upvotes, then newest).

        The same decisions as `verdict` for every candidate, made from each topic's shared
        Matches: a paper one topic alone selects (the common case) gets that topic's Match
        as it is, one several topics select gets them combined (every matching topic and
        its reasons in profile order, the best score). Papers an author selects are decided
        by `verdict` itself."""
        topics = profile.topics
        sets = [self.selected(t) for t in topics]
        several: set[int] = set()
        for a, first in enumerate(sets):
            for second in sets[a + 1 :]:
                several |= first & second
        authored: set[int] = set()
        if profile.authors:
            authored = {i for i, d in enumerate(self._docs) if self._author_hit(d, profile.authors)}
        excluded: set[int] = set()
        for term in profile.exclude:
            excluded |= self.excluded(term)
        dropped = several | authored | excluded
        many = len(topics) > 1
        ranked: list[tuple[int, Match]] = []
        parts: dict[int, list[tuple[int, Match]]] = {
            i: [] for i in sorted(several - authored - excluded)
        }
        for topic, found in zip(topics, sets, strict=True):
            if found:
                table = self._singles(topic, many)
                ranked += [table[i] for i in found - dropped]
                for i in found & parts.keys():
                    parts[i].append(table[i])
        ranked += [self._combined(group) for group in parts.values()]
        for i in authored:
            v = self.verdict(profile, i)
            if v.matched:
                ranked.append(
                    (self._order(v.score, i), Match(v.paper, v.score, v.topics, v.reasons))
                )
        ranked.sort(key=itemgetter(0))
        return [m for _, m in ranked]

    def best(
        self, profile: Profile, *, drop: Iterable[AbstractSet[int]] = (), limit: int
    ) -> tuple[list[Match], int]:
        """The first `limit` (0: all) of `match(profile)` whose papers are in no set of `drop`
        (paper indexes: posted already, outside the window), and how many of `match(profile)`
        are in none: `(kept[:limit], len(kept))` for `kept` so filtered, the same Matches.

        A digest needs a handful of a channel's matches: they are merged from each topic's
        matches in rank order (shared by every channel), not all built and sorted."""
        if profile.authors:
            dropped = set[int]().union(*drop)
            index = self._by_key
            kept = [m for m in self.match(profile) if index[m.paper.key] not in dropped]
            return (kept[:limit] if limit else kept), len(kept)
        topics = profile.topics
        sets = [self.selected(t) for t in topics]
        eligible = set[int]().union(*sets)
        for term in profile.exclude:
            eligible -= self.excluded(term)
        for skip in drop:
            eligible -= skip
        many = len(topics) > 1
        following = [(t, found) for t, found in zip(topics, sets, strict=True) if found]
        out: list[Match] = []
        seen: set[int] = set()
        for _, i in heapq.merge(*(self._ranked(t) for t, _ in following)):
            if i in seen or i not in eligible:
                continue
            seen.add(i)
            group = [self._single(t, many, i) for t, found in following if i in found]
            out.append(group[0][1] if len(group) == 1 else self._combined(group)[1])
            if len(out) == limit:
                break
        return out, len(eligible)

    def _ranked(self, topic: str) -> list[tuple[int, int]]:
        """(order, index) of each paper `topic` selects, best first (see `_single`); no
        Match is made for them."""
        ranked = self._rankings.get(topic)
        if ranked is None:
            evidence, order = self.topic_evidence(topic), self._order
            ranked = sorted(
                (order(max(0.0, evidence[i].score), i), i) for i in self.selected(topic)
            )
            self._rankings[topic] = ranked
        return ranked

    def outside(self, start: datetime, end: datetime) -> frozenset[int]:
        """Indexes of the papers not first stored within [start, end] (see `in_window`)."""
        key = (start, end)
        found = self._outside.get(key)
        if found is None:
            if self._by_time is None:
                timed = sorted(
                    (d.paper.first_seen, i) for i, d in enumerate(self._docs) if d.paper.first_seen
                )
                self._by_time = ([t for t, _ in timed], [i for _, i in timed])
            times, order = self._by_time
            inside = order[bisect_left(times, start) : bisect_right(times, end)]
            found = self._outside[key] = frozenset(range(len(self._docs))).difference(inside)
        return found

    def index_of(self, key: str) -> int | None:
        return self._by_key.get(key)


def _evidence_key(concept: Concept) -> Hashable:
    """Everything of `concept` that a paper's evidence depends on (see `_evidence`): equal
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


def rank_key(m: Match) -> RankKey:
    """Sort key: match score, then HF upvotes when known, then recency, then key."""
    p = m.paper
    when = p.published or p.first_seen
    return (-round(m.score, 6), -(p.upvotes or 0), -(when.timestamp() if when else 0.0), p.key)


def topics_profile(topics: Sequence[str], exclude: Sequence[str] = ()) -> Profile:
    """An ad-hoc profile, for `paperboy match` and previews."""
    return Profile(
        platform="console", channel_id="adhoc", topics=tuple(topics), exclude=tuple(exclude)
    )


def concepts_of(matcher: Matcher, topics: Iterable[str]) -> Mapping[str, Concept]:
    return {t: matcher.concept(t) for t in topics}
