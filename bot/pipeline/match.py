"""Relevance: how strongly a paper is *about* a subscription, with the evidence that says so.

Pure. A `Matcher` indexes a set of papers once (per digest cycle) and evaluates each
distinct topic once, whatever the number of channels following it. What it returns
(`Match`, `Verdict`) and the order matches rank in (`rank_key`) are in
`bot.pipeline.matches`.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from rapidfuzz import fuzz

from bot.models import Paper, Profile
from bot.pipeline.evidence import (
    DEFAULT_TUNING,
    Doc,
    Evidence,
    Tuning,
    analysed,
    evidence,
    evidence_key,
    with_related,
    with_semantic,
)
from bot.pipeline.feedback import related_terms
from bot.pipeline.learn import Learned, Rule, evidence_feature
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.matches import Match, Verdict, rank_key
from bot.pipeline.query import Concept, fold_topic, understand
from bot.pipeline.semantic import Semantic
from bot.pipeline.split import both
from bot.pipeline.text import fold

AUTHOR_SIMILARITY = 92.0
# `Matcher.unsure`: papers whose logit (the channel's model, or the evidence's alone) is at
# least UNSURE_LOGIT; without a model the evidence feature counts DEFAULT_UNSURE_SLOPE.
UNSURE_LOGIT = -3.0
DEFAULT_UNSURE_SLOPE = 4.0
# Channels' models applied (`Matcher._decided`) a Matcher remembers, at most.
LEARNED_KEPT = 256


@dataclass
class Matcher:
    """Relevance of `papers` to any number of topics and profiles. Build once per cycle.
    Analysed papers are remembered with the lexicon, for later Matchers (`Analysed`).
    `tuning` holds the decision threshold and evidence weights (default: today's)."""

    papers: Sequence[Paper]
    lexicon: Lexicon
    tuning: Tuning = DEFAULT_TUNING
    semantic: Semantic | None = None  # related terms by meaning (the optional extra)
    _docs: list[Doc] = field(init=False)
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
    _learned: dict[tuple[object, ...], _Decided] = field(init=False, default_factory=dict)

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

    @property
    def threshold(self) -> float:
        """Evidence needed for "about" (`Tuning.threshold`)."""
        return self.tuning.threshold

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
        return self._evaluate(topic, key)

    def evaluate(self, topics: Iterable[str], *, split: bool = False) -> None:
        """Evaluates each of `topics` not evaluated yet (`topic_evidence` then finds it).
        With `split`, about half of them in a forked process (`bot.pipeline.split.both`:
        it reads the indexed papers copy-on-write and sends back each topic's concept and
        evidence), for a digest cycle's thousands of topics on a machine with a second core.
        The same concepts and evidence either way."""
        first: dict[str, str] = {}  # each key understood from its first topic, as lazily
        for t in topics:
            if (key := self._key(t)) not in self._cache:
                first.setdefault(key, t)
        todo = list(first.items())
        # (not with a semantic model: its library's threads do not survive a fork)
        if not split or self.semantic is not None or len(todo) < 2:
            for key, topic in todo:
                self._evaluate(topic, key)
            return
        theirs, mine = todo[1::2], todo[0::2]

        def in_child() -> list[tuple[str, Concept, dict[int, Evidence]]]:
            return [(key, self.concept(t), self._evaluate(t, key)) for key, t in theirs]

        def here() -> None:
            for key, topic in mine:
                self._evaluate(topic, key)

        found, _ = both(in_child, here)
        for key, concept, out in found:
            if key in self._cache:  # (in_child computed here: a fallback of `both`)
                continue
            self._concepts.setdefault(key, concept)
            shared = self._by_concept.setdefault(evidence_key(concept), out)
            self._cache[key] = shared

    def _evaluate(self, topic: str, key: str) -> dict[int, Evidence]:
        """`topic_evidence` of a topic (whose `_key` is `key`) not in the cache yet."""
        concept = self.concept(topic)
        same = evidence_key(concept)  # topics typed differently, understood alike
        shared = self._by_concept.get(same)
        if shared is not None:
            self._cache[key] = shared
            return shared
        out = {}
        for i in self._candidates(concept):
            ev = evidence(self._docs[i], concept, self.tuning)
            if ev.evidence > 0:
                out[i] = ev
        related = related_terms(concept, out, self._docs, self._postings)
        if related:
            for i, ev in out.items():
                if ev.evidence < self.threshold:
                    out[i] = with_related(self._docs[i], ev, related, self.tuning)
        if self.semantic is not None and self.tuning.w_semantic > 0:
            self._add_semantic(concept, out)
        self._cache[key] = self._by_concept[same] = out
        return out

    def _add_semantic(self, concept: Concept, out: dict[int, Evidence]) -> None:
        """The semantically related terms' evidence (`with_semantic`) for the papers below
        the threshold, including those with no lexical evidence at all."""
        assert self.semantic is not None
        related = self.semantic.related(
            concept,
            self.papers,
            self.tuning.semantic_similarity,
            within=self.tuning.semantic_within,
        )
        if not related:
            return
        postings, empty = self._postings, set[int]()
        having: set[int] = set()
        for r in related:
            sets = sorted((postings.get(s, empty) for s in r.stems), key=len)
            if sets and sets[0]:
                having |= sets[0].intersection(*sets[1:])
        nothing = Evidence(0.0, ())
        for i in sorted(having):
            ev = out.get(i, nothing)
            if ev.evidence < self.threshold:
                found = with_semantic(self._docs[i], ev, related, self.tuning)
                if found.evidence > 0:
                    out[i] = found

    def verdict(self, profile: Profile, index: int, learned: Learned | None = None) -> Verdict:
        """The full decision for one paper (matched or not, and why); with `learned` (the
        channel's model), as `match` decides with it."""
        if learned is not None:
            return self._learned_verdict(profile, index, learned)
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

    def _author_hit(self, doc: Doc, wanted: Sequence[str]) -> str | None:
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

    def match(self, profile: Profile, learned: Learned | None = None) -> list[Match]:
        """Papers the profile selects, best first (score, then upvotes, then newest).
        With `learned` (the channel's model), see `_learn`.

        The same decisions as `verdict` for every candidate, made from each topic's shared
        Matches: a paper one topic alone selects (the common case) gets that topic's Match
        as it is, one several topics select gets them combined (every matching topic and
        its reasons in profile order, the best score). Papers an author selects are decided
        by `verdict` itself."""
        if learned is not None:
            return self._learn(profile, learned, set())[0]
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
        self,
        profile: Profile,
        *,
        drop: Iterable[AbstractSet[int]] = (),
        limit: int,
        learned: Learned | None = None,
    ) -> tuple[list[Match], int]:
        """The first `limit` (0: all) of `match(profile)` whose papers are in no set of `drop`
        (paper indexes: posted already, outside the window), and how many of `match(profile)`
        are in none: `(kept[:limit], len(kept))` for `kept` so filtered, the same Matches.

        A digest needs a handful of a channel's matches: they are merged from each topic's
        matches in rank order (shared by every channel), not all built and sorted. With
        `learned` (a channel with feedback, the rare case) they are all built (`_learn`)."""
        if learned is not None:
            return self._learn(profile, learned, set[int]().union(*drop), limit)
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

    def _rule(self, profile: Profile, learned: Learned) -> Rule:
        """The channel's decision rule (`Learned.rule`) over the profile's topic evidence."""
        features = {
            key: evidence_feature(self._evidence_of(profile, p), self.threshold)
            for p, _ in (*learned.liked, *learned.disliked)
            for key in (p.key,)
        }
        return learned.rule(features, (tuple(profile.topics), self.threshold))

    def _evidence_of(self, profile: Profile, paper: Paper) -> float:
        """The paper's best topic evidence for the profile, also for a paper this Matcher
        does not hold (then without related terms)."""
        i = self._by_key.get(paper.key)
        if i is not None:
            return self._evidence_at(profile.topics, i)
        doc = analysed(self.lexicon).doc(paper)
        return max(
            (evidence(doc, self.concept(t), self.tuning).evidence for t in profile.topics),
            default=0.0,
        )

    def _evidence_at(self, topics: Sequence[str], i: int) -> float:
        found = (self.topic_evidence(t).get(i) for t in topics)
        return max((ev.evidence for ev in found if ev is not None), default=0.0)

    def _logit(self, profile: Profile, i: int, learned: Learned, rule: Rule) -> float:
        """The channel's logit for paper `i` (>= 0: selected). Nearness (`Learned.near`, in
        [-1, 1]) is computed only when it can matter: a logit that stays below
        UNSURE_LOGIT whatever the nearness is returned without it (still below it)."""
        t = evidence_feature(self._evidence_at(profile.topics, i), self.threshold)
        base = rule.bias + rule.slope * t
        if rule.like == 0.0 or base + abs(rule.like) < UNSURE_LOGIT:
            return base
        return base + rule.like * learned.near(self._docs[i].paper)

    def _decided(self, profile: Profile, learned: Learned) -> _Decided:
        """The channel's model applied once to every paper it may select or ask about
        (`Influence`): a match the topics select is kept when its logit is >= 0 (an
        author's always), its score moved by `rank` times the model's margin; a paper with
        some evidence for a topic that the topics do not select (and no exclusion drops)
        is added at a logit >= 0. Remembered for the model and profile (a digest asks
        `best`, then `unsure`, of the same channel); Matches are made only when asked for
        (`_made`: reasons cost)."""
        key = (id(learned), profile.topics, profile.exclude, profile.authors)
        found = self._learned.get(key)
        if found is not None and found.learned is learned:
            return found
        rule = self._rule(profile, learned)
        rank = learned.influence.rank
        plain = self.match(profile)
        logits: dict[int, float] = {}
        kept: list[tuple[int, int]] = []
        scores: dict[int, float] = {}
        matched: dict[int, Match] = {}
        for m in plain:
            i = self._by_key[m.paper.key]
            logit = logits[i] = self._logit(profile, i, learned, rule)
            matched[i] = m
            if logit < 0 and not any(t.startswith("author ") for t in m.topics):
                continue
            score = min(1.0, max(0.0, m.score + rank * learned.score(m.paper)))
            scores[i] = score
            kept.append((self._order(score, i), i))
        for i in self._addable(profile, set(), matched.keys()):
            logit = logits[i] = self._logit(profile, i, learned, rule)
            if logit >= 0:
                base, _ = self._best_evidence(profile, i)
                score = min(1.0, max(0.0, base + rank * learned.score(self._docs[i].paper)))
                scores[i] = score
                kept.append((self._order(score, i), i))
        kept.sort()
        found = _Decided(learned, profile, kept, logits, scores, matched)
        if len(self._learned) >= LEARNED_KEPT:
            self._learned.clear()
        self._learned[key] = found
        return found

    def _made(self, decided: _Decided, i: int) -> Match:
        """The Match of kept paper `i` (see `_decided`), made once."""
        m = decided.made.get(i)
        if m is None:
            learned, score = decided.learned, decided.scores[i]
            plain = decided.matched.get(i)
            reason = learned.reason(self._docs[i].paper)
            if plain is not None:
                reasons = (*plain.reasons, reason) if reason else plain.reasons
                m = Match(plain.paper, score, plain.topics, reasons)
            else:
                m = self._added(decided.profile, i, decided.logits[i], learned, score, reason)
            decided.made[i] = m
        return m

    def _learn(
        self,
        profile: Profile,
        learned: Learned,
        skip: AbstractSet[int],
        limit: int = 0,
    ) -> tuple[list[Match], int]:
        """The first `limit` (0: all) papers the channel's model selects (`_decided`), best
        first, the papers in `skip` left out, and how many it selects without them."""
        decided = self._decided(profile, learned)
        kept = [i for _, i in decided.kept if i not in skip]
        shown = kept[:limit] if limit else kept
        return [self._made(decided, i) for i in shown], len(kept)

    def _addable(
        self, profile: Profile, skip: AbstractSet[int], seen: AbstractSet[int]
    ) -> list[int]:
        """Papers the model may add for `profile`: with some evidence for one of its topics,
        not selected (`seen`), skipped or excluded."""
        pool = set[int]().union(*(self.topic_evidence(t).keys() for t in profile.topics))
        pool -= seen
        pool.difference_update(skip)
        for term in profile.exclude:
            pool -= self.excluded(term)
        return sorted(pool)

    def _best_evidence(self, profile: Profile, i: int) -> tuple[float, str | None]:
        """The paper's best topic score and that topic (below the threshold: evidence of a
        paper not selected), (0.0, None) without any."""
        best: tuple[float, str | None] = (0.0, None)
        for t in profile.topics:
            ev = self.topic_evidence(t).get(i)
            if ev is not None and ev.score > best[0]:
                best = (ev.score, t)
        return best

    def _nudged(self, m: Match, learned: Learned) -> Match:
        """A selected paper's Match with its score moved by `rank` times the model's margin
        (`Learned.score`: more like the liked papers ranks higher)."""
        reason = learned.reason(m.paper)
        score = min(1.0, max(0.0, m.score + learned.influence.rank * learned.score(m.paper)))
        return Match(m.paper, score, m.topics, (*m.reasons, reason) if reason else m.reasons)

    def _added(
        self,
        profile: Profile,
        i: int,
        logit: float,
        learned: Learned,
        score: float | None = None,
        reason: str | None = None,
    ) -> Match:
        """The Match of a paper the topics' evidence alone does not select, the model does
        (`score` and `reason`: already known)."""
        paper = self._docs[i].paper
        base, topic = self._best_evidence(profile, i)
        ev = self.topic_evidence(topic).get(i) if topic is not None else None
        own = ev.reasons if ev is not None else ()
        if reason is None:
            reason = learned.reason(paper)
        reason = reason or f"feedback: more like this ({logit:+.2f})"
        if score is None:
            score = min(1.0, max(0.0, base + learned.influence.rank * learned.score(paper)))
        return Match(paper, score, ("feedback",), (reason, *own))

    def _addable_one(self, profile: Profile, index: int) -> bool:
        """`index in _addable(profile, set(), set())`, for one paper."""
        if not any(index in self.topic_evidence(t) for t in profile.topics):
            return False
        return not any(index in self.excluded(term) for term in profile.exclude)

    def _learned_verdict(self, profile: Profile, index: int, learned: Learned) -> Verdict:
        """`verdict` with the channel's model, deciding as `_decided` does."""
        v = self.verdict(profile, index)
        rule = self._rule(profile, learned)
        logit = self._logit(profile, index, learned, rule)
        if v.matched:
            reason = learned.reason(v.paper)
            reasons = (*v.reasons, reason) if reason else v.reasons
            if logit < 0 and not any(t.startswith("author ") for t in v.topics):
                return Verdict(v.paper, False, v.score, v.topics, reasons, None, v.best_topic)
            m = self._nudged(Match(v.paper, v.score, v.topics, v.reasons), learned)
            return Verdict(v.paper, True, m.score, m.topics, m.reasons, None, v.best_topic)
        if v.excluded_by is None and logit >= 0 and self._addable_one(profile, index):
            m = self._added(profile, index, logit, learned)
            return Verdict(v.paper, True, m.score, m.topics, m.reasons, None, v.best_topic)
        reason = learned.reason(v.paper)
        return Verdict(
            v.paper,
            False,
            v.score,
            v.topics,
            (*v.reasons, reason) if reason else v.reasons,
            v.excluded_by,
            v.best_topic,
        )

    def unsure(
        self,
        profile: Profile,
        *,
        drop: Iterable[AbstractSet[int]] = (),
        limit: int,
        learned: Learned | None = None,
    ) -> list[Match]:
        """Up to `limit` papers the channel's digest does not select but nearly does, to ask
        the channel about ("Unsure — is this for you?": active learning by uncertainty
        sampling). Candidates have some evidence for one of the profile's topics and are in
        no set of `drop` and no exclusion; the ones closest to being selected come first (by
        the channel's model when `learned`, else by evidence). Their Matches have
        `unsure=True` and the topic of their best evidence."""
        if limit <= 0:
            return []
        away = set[int]().union(*drop)
        ranked = []
        if learned is not None:
            decided = self._decided(profile, learned)
            away |= {i for _, i in decided.kept}
            voted = (self._by_key.get(key) for key, _, _ in learned.voted)  # asked already
            away |= {i for i in voted if i is not None}
            for i, logit in decided.logits.items():
                if logit >= UNSURE_LOGIT and i not in away:
                    ranked.append((-logit, self._places_of(i), i))
        else:
            for term in profile.exclude:
                away |= self.excluded(term)
            away |= {self._by_key[m.paper.key] for m in self.match(profile)}
            rule = Rule(0.0, DEFAULT_UNSURE_SLOPE, 0.0)
            for i in self._addable(profile, away, set()):
                best = self._evidence_at(profile.topics, i)
                logit = rule.logit(evidence_feature(best, self.threshold), 0.0)
                if logit >= UNSURE_LOGIT:
                    ranked.append((-logit, self._places_of(i), i))
        out = []
        for _, _, i in sorted(ranked)[:limit]:
            score, topic = self._best_evidence(profile, i)
            found = self.topic_evidence(topic).get(i) if topic is not None else None
            reasons = found.reasons if found is not None else ()
            out.append(Match(self._docs[i].paper, score, (topic,) if topic else (), reasons, True))
        return out

    def _places_of(self, i: int) -> int:
        self._order(0.0, i)  # builds the places
        assert self._places is not None
        return self._places[i]

    def outside(self, start: datetime, end: datetime) -> frozenset[int]:
        """Indexes of the papers not first stored within [start, end] (both ends included)."""
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


def topics_profile(topics: Sequence[str], exclude: Sequence[str] = ()) -> Profile:
    """An ad-hoc profile, for `paperboy match` and previews."""
    return Profile(
        platform="console", channel_id="adhoc", topics=tuple(topics), exclude=tuple(exclude)
    )


# Papers a channel's digest asks about ("Unsure — is this for you?"), at most: a separate
# section after its matches, not counted against its max_posts.
ASKED = 2


def asked(
    matcher: Matcher,
    profile: Profile,
    *,
    drop: Iterable[AbstractSet[int]] = (),
    learned: Learned | None,
    teaching: bool = True,
    limit: int = ASKED,
) -> list[Match]:
    """The papers a channel's digest asks about (`Matcher.unsure`, `unsure=True`): by its
    model when it has one (`learned`), else, while it can teach (`teaching`: feedback is
    on) and has too few votes for a model, by topic evidence alone: asking is how a channel
    starts teaching (the simulation shows asking only once a model exists gains nothing).
    Without feedback (`teaching` False, no model) nothing is asked and the digest is what
    it always was. The digest (bot.digest) and the feedback simulation (bot.simulate) both
    ask through this function."""
    if limit <= 0 or (learned is None and not teaching):
        return []
    return matcher.unsure(profile, drop=drop, limit=limit, learned=learned)


@dataclass(slots=True)
class _Decided:
    """A channel's model applied to a Matcher's papers (`Matcher._decided`): the papers it
    selects as (order, index), best first; the logit of every paper it may select or ask
    about; the scores of those it selects; the profile's own Matches; and the Matches made
    so far (with their reasons)."""

    learned: Learned
    profile: Profile
    kept: list[tuple[int, int]]
    logits: dict[int, float]
    scores: dict[int, float]
    matched: dict[int, Match]
    made: dict[int, Match] = field(default_factory=dict)
