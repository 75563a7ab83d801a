"""Archive search behind `/papers <query>`: a SearchQuery built from the understood text,
bm25 candidates (the newest papers first) re-ranked with the matcher's evidence, and a fuzzy
title fallback. The archive is reached through the `PaperIndex` port."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from rapidfuzz import fuzz, process, utils

from bot.models import Paper, SearchQuery
from bot.pipeline.evidence import Evidence
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import Matcher
from bot.pipeline.query import Concept, understand
from bot.pipeline.text import fold, is_content, stem, stems, words

MAX_QUERY_WORDS = 12  # a query names a topic; longer input is cut (with a note)
MAX_QUERY_CHARS = 200
NOTE_CHARS = 60
MAX_FTS_TERMS = 48
CANDIDATES = 200  # bm25's best; `total` is capped here
# Of those, the matcher weighs the best (analysing a paper's text costs ~1.5 ms): 30 rather
# than 50 cuts a query's re-ranking by 40% at 250,000 papers, and on the seed dumps the top 5
# of the relevance queries are the same (fewer breaks SQLite/PostgreSQL agreement there).
RERANK = 30
# Candidates come from the RECENT newest papers when CANDIDATES of them have the topic in
# their title (Search, Archive.fts): bm25 then scores a tier of the archive, not every paper
# with a common word.
RECENT = 25_000
# A word in at least this share of the archive's papers (the lexicon's document frequency)
# has no weight in bm25 (FTS5 and pg_search clamp an IDF <= 0 to 1e-6), but scoring it means
# reading most of the index: it is left out of the expression unless nothing else is left.
GENERIC_SHARE = 0.5
# In an archive of at least COMMON_FROM papers, a loose word (not a full phrasing of the
# topic) in at least COMMON_SHARE of them is left out too: it weighs little (an IDF of at
# most ln 9 ≈ 2.2) and ranking every paper that has it is what makes the full-text query
# slow (halved at 250,000 papers; ~60 ms of a query already at 10,000). Smaller archives
# (the seed dumps of the relevance evaluation) are ranked with every word.
COMMON_SHARE = 0.1
COMMON_FROM = 5_000
W_EVIDENCE = 0.7  # the matcher's evidence: title above abstract, acronyms, variants ...
W_LEXICAL = 0.3  # ... with bm25 (title 10, abstract 2, authors 1) relative to the best
FUZZY_MIN_CHARS = 4
FUZZY_CUTOFF = 80.0
FEW_CHARS = 4  # a fuzzy query of at most this many distinct characters is prefiltered
_TITLES = "search.titles"  # the fuzzy fallback's titles, in Lexicon.caches

_TOKEN = re.compile(r"[^\W_]+")  # letters and digits only: what a SearchQuery term is made of


class PaperIndex(Protocol):
    """The archive as search reads it (bot.store.archive.Archive). Blocking calls (the
    caller runs them in a thread); a failing database raises StoreError."""

    def fts(self, query: SearchQuery, *, limit: int, recent: int = 0) -> list[tuple[Paper, float]]:
        """The `limit` best papers with a term of `query`, best first, each with its bm25
        rank (lower is better); the `recent` newest papers first (Archive.fts)."""
        ...

    def titles(self) -> list[tuple[str, str]]:
        """(key, title) of every archived paper, in insertion order."""
        ...

    def get(self, key: str) -> Paper | None:
        """The paper with this key, or None."""
        ...


@dataclass(frozen=True, slots=True)
class Hit:
    """One paper found: its score in [0, 1] and why it was found."""

    paper: Paper
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The best `hits`, best first; `notes` on how the query was read (typo repairs,
    acronyms, a cut query, a fuzzy fallback); `total` candidates found (<= CANDIDATES)."""

    hits: tuple[Hit, ...]
    notes: tuple[str, ...]
    total: int


def fts_query(concept: Concept, lex: Lexicon | None = None) -> SearchQuery | None:
    """The full-text query for `concept`: each phrasing (multi-word ones as phrases), then
    each content word alone so that words apart still match, and the words as typed (an
    author's name is no typo), any of them; its topic is `topic_query`. Only alphanumeric
    tokens. None when nothing is searchable. Pure.

    With the archive's lexicon `lex`, one-word terms in at least GENERIC_SHARE of its papers
    (`models`, `language`) are left out when another term remains: bm25 gives them no weight
    (an IDF <= 0 is clamped to 1e-6), so the papers that have another term rank as before
    (to ~1e-5), and papers having only such words are no longer candidates (Search asks for
    them only when no paper has another term). In an archive of COMMON_FROM papers or more,
    so are loose words (not a full phrasing of the topic) in COMMON_SHARE of its papers:
    they weigh little, and the best candidates have the topic's own terms."""
    terms: dict[str, None] = {}
    loose: dict[str, None] = {}
    for ph in concept.phrases:
        tokens = _TOKEN.findall(ph.label)
        if tokens:
            terms[" ".join(tokens)] = None
            loose.update((t, None) for t in tokens if is_content(t))
    if concept.phrases:
        loose.update((t, None) for t in _TOKEN.findall(fold(concept.text)) if is_content(t))
    for token in loose:
        terms.setdefault(token, None)
    kept = list(terms)[:MAX_FTS_TERMS]
    if lex is not None and lex.n_docs > 0:
        topic = set(topic_query(concept))
        specific = [t for t in kept if not _generic(t, lex, t in topic)]
        kept = specific or kept
    return SearchQuery(tuple(kept), topic_query(concept)) if kept else None


def topic_query(concept: Concept) -> tuple[str, ...]:
    """The query's full phrasings (as typed or repaired, compound variants, acronyms both
    ways; not trimmed ones nor loose words), each a phrase: what a paper must say to be
    squarely on the topic. Empty when there are none."""
    labels = (" ".join(_TOKEN.findall(p.label)) for p in concept.phrases if p.weight >= 1.0)
    return tuple(dict.fromkeys(t for t in labels if t))


def _generic(term: str, lex: Lexicon, topic: bool) -> bool:
    """A one-word term in at least GENERIC_SHARE of the lexicon's papers; or, not a full
    phrasing of the `topic` and in an archive of COMMON_FROM papers, in COMMON_SHARE. Pure."""
    if " " in term:
        return False
    share = COMMON_SHARE if not topic and lex.n_docs >= COMMON_FROM else GENERIC_SHARE
    return lex.df.get(stem(term), 0) >= share * lex.n_docs


def _visible(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return " "  # NUL, tabs, newlines: word separators
    return "" if cat[0] == "C" else ch  # format marks, surrogates, private use, unassigned


def clip(query: str) -> tuple[str, tuple[str, ...]]:
    """The query as searched: control characters become spaces, other invisible ones
    (format marks, surrogates, private use) go, whitespace collapses; at most
    MAX_QUERY_WORDS words and MAX_QUERY_CHARS characters, with a note when cut."""
    head = query[: 8 * MAX_QUERY_CHARS]  # no need to look further into a pasted document
    parts = "".join(map(_visible, head)).split()
    text = " ".join(parts[:MAX_QUERY_WORDS])
    if len(text) > MAX_QUERY_CHARS:
        cut = text[:MAX_QUERY_CHARS]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
    if len(head) < len(query) or text != " ".join(parts):
        shown = text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1] + "…"
        return text, (f"searched only the start of the query: '{shown}'",)
    return text, ()


def _when(p: Paper) -> float:
    when = p.published or p.first_seen
    return when.timestamp() if when else 0.0


def _order(hit: Hit) -> tuple[float, float, int, str]:
    """Best first: score, then the newest, then the most upvoted, then key (stable)."""
    p = hit.paper
    return (-round(hit.score, 6), -_when(p), -(p.upvotes or 0), p.key)


def _word_reason(paper: Paper, concept: Concept) -> str:
    """Which of the query's words a paper the matcher had no evidence for has, and where."""
    typed = [w for ph in concept.phrases for w in words(ph.label)] + words(concept.text)
    wanted = {stem(w): w for w in typed if is_content(w)}
    parts = []
    fields = (("title", paper.title), ("abstract", paper.abstract), ("authors", paper.authors))
    for name, value in fields:
        text = value if isinstance(value, str) else ", ".join(value)
        present = set(stems(text))
        found = list(dict.fromkeys(w for s, w in wanted.items() if s in present))
        if found:
            parts.append(f"{name}: " + ", ".join(f"'{w}'" for w in found))
    return "; ".join(parts) or "full-text match"


class Search:
    """Search the archive for a query as a user types it.

    `lexicon` is called once per search; the caller caches it (it is learned from the whole
    archive). A Matcher is built over the best full-text candidates only. `search` never
    raises for any query text; a failing database raises StoreError.

    Newest first (`recent`, default RECENT): when at least CANDIDATES of the `recent` most
    recently stored papers have one of the query's full phrasings (its topic) in their
    title, the candidates are the CANDIDATES best by bm25 among those newest papers only;
    otherwise the whole archive is searched (Archive.fts). So in an archive of more than
    `recent` papers, a broad topic (`diffusion models`, `llms`) shows recent papers, and an
    older paper is not found by it even if it would have ranked above them; a specific
    query (a title fragment, an author, a rare topic) searches everything, as with
    `recent=0`. A paper's bm25 rank is the same either way (the statistics are the whole
    archive's).
    """

    def __init__(
        self, archive: PaperIndex, lexicon: Callable[[], Lexicon], *, recent: int = RECENT
    ) -> None:
        self._archive = archive
        self._lexicon = lexicon
        self._recent = max(recent, 0)

    def search(self, query: str, *, limit: int = 5) -> SearchResult:
        """The `limit` best papers for `query`, best first, with notes and a total."""
        text, cut = clip(query)
        limit = max(limit, 0)
        lex = self._lexicon()
        concept = understand(text, lex)
        notes = [*cut, *concept.notes]
        wanted = fts_query(concept, lex)
        found = []
        if wanted:
            found = self._fts(wanted)
            every = fts_query(concept) if not found else None
            if every and every != wanted:  # no paper has a specific word: the generic ones
                found = self._fts(every)
        if not found:
            return self._fuzzy(text, limit, notes, lex)
        hits = _rank(text, found, lex)[:limit]
        hits = [h if h.reason else replace(h, reason=_word_reason(h.paper, concept)) for h in hits]
        return SearchResult(tuple(hits), tuple(notes), len(found))

    def _fts(self, query: SearchQuery) -> list[tuple[Paper, float]]:
        return self._archive.fts(query, limit=CANDIDATES, recent=self._recent)

    def _fuzzy(self, text: str, limit: int, notes: list[str], lex: Lexicon) -> SearchResult:
        """Titles resembling the query, for when no word of it is in the index."""
        folded = " ".join(words(text))
        if len(folded) < FUZZY_MIN_CHARS or limit == 0:
            return SearchResult((), tuple(notes), 0)
        known = self._titles(lex)
        wanted = utils.default_process(folded)
        titles: Sequence[str] = known.titles
        indexes: Sequence[int] = range(len(titles))
        if len(set(wanted)) <= FEW_CHARS:  # `xxxxxxxx…`: most titles cannot resemble it
            indexes = could_resemble(wanted, titles, FUZZY_CUTOFF)
            titles = [titles[i] for i in indexes]
        found = process.extract(
            wanted,
            titles,
            scorer=fuzz.partial_ratio,
            processor=None,  # both sides processed as `utils.default_process` does
            score_cutoff=FUZZY_CUTOFF,
            limit=limit,
        )
        hits = []
        for _title, similarity, index in found:
            paper = self._archive.get(known.keys[indexes[index]])
            if paper is not None:
                hits.append(Hit(paper, similarity / 100.0, f"title resembles '{folded}'"))
        if hits:
            notes.append(f"no paper has the words of '{text}'; showing similar titles")
        return SearchResult(tuple(sorted(hits, key=_order)), tuple(notes), len(hits))

    def _titles(self, lex: Lexicon) -> _Titles:
        """The archive's titles as the fuzzy fallback compares them, read once per lexicon:
        kept in `lex.caches`, so they are read again with every new Lexicon (LexiconCache
        hands out a new one whenever the archive changed) or when this one learned more
        papers (`n_docs`). Reading 250,000 titles takes seconds; comparing them, ~0.5 s."""
        cached = lex.caches.get(_TITLES)
        if isinstance(cached, _Titles) and cached.n_docs == lex.n_docs:
            return cached
        rows = self._archive.titles()
        made = _Titles(
            lex.n_docs, [key for key, _ in rows], [utils.default_process(t) for _, t in rows]
        )
        lex.caches[_TITLES] = made
        return made


@dataclass(frozen=True, slots=True)
class _Titles:
    """(keys, processed titles) of the archive, in insertion order, read when the lexicon
    had learned `n_docs` papers."""

    n_docs: int
    keys: list[str]
    titles: list[str]


def could_resemble(query: str, titles: Sequence[str], cutoff: float) -> list[int]:
    """The indexes of the `titles` whose `fuzz.partial_ratio` with `query` may reach
    `cutoff`; the others cannot. Pure.

    partial_ratio scores the shorter string (length L) against substrings of the other as
    100 × 2·LCS / (L + w) for a substring of length w >= LCS. A common subsequence of a
    title and the query uses only the title's characters that occur in the query, k of
    them, so LCS <= m = min(k, L) and the score is at most 200·m / (L + m). Counting k
    costs a pass over each title per distinct character of the query: worth it for a query
    of a few distinct characters (`xxxx…`), which few titles can resemble."""
    chars = set(query)
    keep = []
    for i, title in enumerate(titles):
        length = min(len(query), len(title))
        m = min(sum(map(title.count, chars)), length)
        if length == 0 or 200.0 * m >= cutoff * (length + m) - 1e-6:
            keep.append(i)
    return keep


def _rank(text: str, found: Sequence[tuple[Paper, float]], lex: Lexicon) -> list[Hit]:
    """Candidates (bm25 best first) by the matcher's evidence over the first RERANK combined
    with bm25 relative to the best candidate; ties go to the newest, then upvotes. Hits the
    matcher has no evidence for get an empty reason (filled in for the hits shown)."""
    evidence: dict[int, Evidence] = Matcher([p for p, _ in found[:RERANK]], lex).topic_evidence(
        text
    )
    best = min(rank for _, rank in found)
    hits = []
    for i, (paper, rank) in enumerate(found):
        ev = evidence.get(i)
        lexical = rank / best if best < 0 else 0.0
        score = W_EVIDENCE * (ev.score if ev else 0.0) + W_LEXICAL * lexical
        hits.append(Hit(paper, score, "; ".join(ev.reasons) if ev else ""))
    return sorted(hits, key=_order)
