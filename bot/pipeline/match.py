"""Relevance: how strongly a paper is *about* a subscription, with the evidence that says so.

Pure. A `Matcher` indexes a set of papers once (per digest cycle) and evaluates each
distinct topic once, whatever the number of channels following it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

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


def _find(f: Field, phrase: tuple[str, ...]) -> list[int]:
    """Start positions of `phrase` (contiguous stems) in field `f`."""
    n = len(phrase)
    return [i for i in range(len(f.stems) - n + 1) if all(f.at(i + j, phrase[j]) for j in range(n))]


def _definitions(p: Paper) -> dict[str, frozenset[tuple[str, ...]]]:
    found: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for sf, lf in find_definitions(f"{p.title}. {p.abstract}"):
        found[fold(sf)].add(tuple(stems(lf)))
    return {k: frozenset(v) for k, v in found.items()}


@dataclass
class Matcher:
    """Relevance of `papers` to any number of topics and profiles. Build once per cycle."""

    papers: Sequence[Paper]
    lexicon: Lexicon
    threshold: float = THRESHOLD
    _docs: list[_Doc] = field(init=False)
    _postings: dict[str, set[int]] = field(init=False)
    _cache: dict[str, dict[int, Evidence]] = field(init=False, default_factory=dict)
    _concepts: dict[str, Concept] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._docs = []
        self._postings = defaultdict(set)
        vocab = self.lexicon.vocab

        def known(word: str) -> bool:
            return vocab.get(word, 0) >= 2

        for i, p in enumerate(self.papers):
            doc = _Doc(
                p,
                Field.of(p.title, known),
                Field.of(p.abstract, known),
                tuple(Field.of(k) for k in p.ai_keywords),
                tuple(fold(a) for a in p.authors),
                _definitions(p),
            )
            self._docs.append(doc)
            for f in (doc.title, doc.abstract, *doc.keywords):
                for s in (*f.stems, *f.alts.values()):
                    self._postings[s].add(i)

    def concept(self, topic: str) -> Concept:
        key = fold_topic(topic)
        if key not in self._concepts:
            self._concepts[key] = understand(topic, self.lexicon)
        return self._concepts[key]

    def topic_evidence(self, topic: str) -> dict[int, Evidence]:
        """Evidence per paper index for every paper with any evidence for `topic` (cached)."""
        key = fold_topic(topic)
        if key in self._cache:
            return self._cache[key]
        concept = self.concept(topic)
        candidates: set[int] = set()
        for ph in concept.phrases:
            sets = [self._postings.get(s, set()) for s in ph.stems]
            candidates |= set.intersection(*sets) if sets else set()
        for s in concept.core:
            candidates |= self._postings.get(s, set())
        out = {}
        for i in candidates:
            ev = self._evidence(self._docs[i], concept)
            if ev.evidence > 0:
                out[i] = ev
        related = self._related_terms(concept, out)
        if related:
            for i, ev in out.items():
                if ev.evidence < self.threshold:
                    out[i] = self._with_related(self._docs[i], ev, related)
        self._cache[key] = out
        return out

    def _related_terms(self, concept: Concept, found: Mapping[int, Evidence]) -> list[str]:
        """Pseudo-relevance feedback: stems over-represented in the papers that are clearly
        about the topic (standard Rocchio-style expansion, learned from these papers)."""
        seeds = [i for i, ev in found.items() if ev.evidence >= SEED_EVIDENCE]
        if len(seeds) < MIN_SEEDS:
            return []
        own = {s for ph in concept.phrases for s in ph.stems}
        counts: dict[str, int] = defaultdict(int)
        for i in seeds:
            d = self._docs[i]
            for s in set(d.title.stems) | set(d.abstract.stems):
                if s not in own and len(s) > 2 and s.isalpha() and s not in STOPWORDS:
                    counts[s] += 1
        n = len(self._docs)
        scored = []
        for s, a in counts.items():
            if a < max(MIN_SEEDS, RELATED_SUPPORT * len(seeds)):
                continue
            lift = (a / len(seeds)) / (len(self._postings[s]) / n)
            if lift >= RELATED_LIFT:
                scored.append((a * math.log(lift), s))
        return [s for _, s in sorted(scored, reverse=True)[:RELATED_TERMS]]

    @staticmethod
    def _with_related(doc: _Doc, ev: Evidence, related: Sequence[str]) -> Evidence:
        title, abstract = set(doc.title.stems), set(doc.abstract.stems)
        hits = [s for s in related if s in title or s in abstract]
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
        sf = fold(ph.short_form)
        defined = doc.definitions.get(sf)
        if defined is not None:
            return bool(defined & concept.long_forms)
        if len(sf) > 2 and fold_topic(concept.text) == fold_topic(sf):
            return True
        present = set(doc.title.stems) | set(doc.abstract.stems)
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
            present = set(doc.title.stems)
            if all(s in present for s in concept.core):
                total += W_TITLE_LOOSE
                reasons.append("title: " + " + ".join(f"'{s}'" for s in concept.core))
        by_sentence: dict[int, set[str]] = defaultdict(set)
        for s, n in zip(doc.abstract.stems, doc.abstract.sentence_of, strict=True):
            if s in w:
                by_sentence[n].add(s)
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

    def match(self, profile: Profile) -> list[Match]:
        """Papers the profile selects, best first (score, then upvotes, then newest)."""
        candidates: set[int] = set()
        for topic in profile.topics:
            candidates |= {
                i for i, ev in self.topic_evidence(topic).items() if ev.evidence >= self.threshold
            }
        if profile.authors:
            candidates |= {
                i for i, d in enumerate(self._docs) if self._author_hit(d, profile.authors)
            }
        out = []
        for i in candidates:
            v = self.verdict(profile, i)
            if v.matched:
                out.append(Match(v.paper, v.score, v.topics, v.reasons))
        return sorted(out, key=rank_key)

    def index_of(self, key: str) -> int | None:
        return next((i for i, d in enumerate(self._docs) if d.paper.key == key), None)


def rank_key(m: Match) -> tuple[float, int, float, str]:
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
