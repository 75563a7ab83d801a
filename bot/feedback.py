"""The team teaches the matcher (issue 16): a vote ("more like this" / "not for us") on a
paper, from a button, a reaction, `/papers more|less` or `paperboy feedback`, is resolved to
an archived paper, rate-limited per person and stored per channel (bot.store.feedback); a
channel's votes train its model (bot.pipeline.learn.train), which the digest and
`paperboy match --channel` apply beside the typed topics.

Rules written here: a paper is named by its key, arXiv id or URL, or its title (exact, else
one clearly closest title among the search's candidates: similar titles are different
papers, so two close candidates are an ambiguity, never a guess); one person gives at most
VOTES_PER_WINDOW votes per channel per VOTE_WINDOW (the shell's `cli` votes are not
limited); a reaction counts only on a message that carries exactly one paper, and removing
it withdraws the vote it gave (not one the person gave since by a button or command).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from bot.errors import PaperboyError
from bot.models import Feedback, Paper, Vote, normalize_title, parse_arxiv_id
from bot.pipeline.learn import Learned, train
from bot.search import Search
from bot.store import aio
from bot.store.archive import Archive
from bot.store.feedback import FeedbackStore

log = logging.getLogger(__name__)

VOTES_PER_WINDOW = 30  # one person's votes in one channel per VOTE_WINDOW
VOTE_WINDOW = timedelta(hours=1)
CLI_USER = "cli"  # `paperboy feedback`: the operator at the shell, not rate-limited
TITLE_SIMILARITY = 90.0  # how close (rapidfuzz ratio of normalized titles) a typed title must be
TITLE_MARGIN = 3.0  # ... and how much closer than the next candidate, else it is ambiguous
CANDIDATES = 10  # titles the search proposes for a fuzzy title
MAX_REF_CHARS = 300
# A channel's model learns its word statistics (and the spread of its margins) from the
# papers it judges and the archive's papers of this last stretch, newest first
# (bot.pipeline.learn.train keeps at most MAX_BACKGROUND of them).
BACKGROUND = timedelta(days=30)
SHOWN_TITLE = 80
VIA_REACTION = "reaction"  # how a reaction's vote is stored (Feedback.via)


class FeedbackError(PaperboyError):
    """A vote that cannot be taken; the message says why and what to do."""


class UnknownPaper(FeedbackError):
    """No archived paper is named by the reference."""


class AmbiguousPaper(FeedbackError):
    """The reference names several archived papers about equally well."""

    def __init__(self, message: str, candidates: Sequence[Paper]) -> None:
        super().__init__(message)
        self.candidates = tuple(candidates)


class RateLimited(FeedbackError):
    """The person gave too many votes in this channel recently."""


@dataclass(frozen=True)
class Given:
    """A vote taken: the paper it is about, the vote, and whether it replaced the person's
    earlier vote on that paper in that channel."""

    paper: Paper
    vote: Vote
    replaced: bool


def _short(title: str) -> str:
    return title if len(title) <= SHOWN_TITLE else title[: SHOWN_TITLE - 1].rstrip() + "…"


def resolve(ref: str, archive: Archive, search: Search | None) -> Paper:
    """The archived paper `ref` names: a Paper.key, an arXiv id or URL, an exact title
    (normalized), else the one title among the search's candidates within TITLE_SIMILARITY
    of it (or whose part before a colon, its short name, it is) and TITLE_MARGIN ahead of
    the next. Blocking (a worker thread).

    Raises UnknownPaper or AmbiguousPaper (messages for the user; titles as stored, to be
    escaped by whoever shows them)."""
    text = " ".join(ref.split())
    if not text:
        raise UnknownPaper("Which paper? Give an arXiv id (2401.04088), its URL or its title.")
    if len(text) > MAX_REF_CHARS:
        raise UnknownPaper("That is too long for a paper id or title; give the arXiv id instead.")
    arxiv_id = parse_arxiv_id(text)
    if arxiv_id is not None and len(text) <= len(arxiv_id) + 40:  # an id or URL, not a title
        paper = archive.get(arxiv_id)
        if paper is None:
            raise UnknownPaper(
                f"arXiv {arxiv_id} is not in the archive. Paperboy can only learn from papers "
                "it has fetched; search with /papers <words of its title>."
            )
        return paper
    exact = archive.get(text)
    if exact is not None:
        return exact
    wanted = normalize_title(text)
    close: dict[str, tuple[float, Paper]] = {}
    if search is not None and wanted:
        for hit in search.search(text, limit=CANDIDATES).hits:
            score = fuzz.ratio(wanted, hit.paper.title_norm)
            if score >= TITLE_SIMILARITY - TITLE_MARGIN:
                close[hit.paper.key] = (score, hit.paper)
            elif wanted == normalize_title(hit.paper.title.partition(":")[0]):
                close[hit.paper.key] = (TITLE_SIMILARITY, hit.paper)  # its short name
    ranked = sorted(close.values(), key=lambda sp: -sp[0])
    if not ranked or ranked[0][0] < TITLE_SIMILARITY:
        raise UnknownPaper(
            f"No archived paper has the title “{_short(text)}”. Give its arXiv id, or find "
            "it with /papers <words of its title>."
        )
    if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < TITLE_MARGIN:
        papers = [p for _, p in ranked[:3]]
        names = "; ".join(f"“{_short(p.title)}” ({p.arxiv_id or 'no arXiv id'})" for p in papers)
        raise AmbiguousPaper(
            f"“{_short(text)}” could be several papers: {names}. Give the arXiv id or the "
            "exact title.",
            papers,
        )
    return ranked[0][1]


def voted_papers(votes: Sequence[Feedback], archive: Archive) -> dict[str, Paper]:
    """The archived papers of `votes` by key (papers no longer archived are left out).
    Blocking (a worker thread)."""
    out: dict[str, Paper] = {}
    for key in dict.fromkeys(v.paper_key for v in votes):
        paper = archive.get(key)
        if paper is not None:
            out[key] = paper
    return out


def learn(
    votes: Sequence[Feedback], papers: Mapping[str, Paper], background: Sequence[Paper]
) -> Learned | None:
    """A channel's model from its votes on `papers` (bot.pipeline.learn.train), with
    `background` (the papers being judged) for word statistics; None without votes or when
    they are too few to learn from. Pure."""
    return train(votes, papers, background) if votes else None


class Teach:
    """Takes a channel's votes and trains its model. Coroutines: every store call runs in a
    worker thread (bot.store.aio). `clock` gives aware UTC now."""

    def __init__(
        self,
        *,
        feedback: FeedbackStore,
        archive: Archive,
        search: Search | None,
        clock: Callable[[], datetime],
        limit: int = VOTES_PER_WINDOW,
        window: timedelta = VOTE_WINDOW,
    ) -> None:
        self.feedback = aio.Async(feedback)
        self.archive = aio.Async(archive)
        self._search = search
        self._clock = clock
        self._limit = limit
        self._window = window

    def _give(self, channel_ref: str, user: str, paper: str, vote: Vote, via: str) -> Given:
        """`give` in a worker thread."""
        found = resolve(paper, self.archive.sync, self._search)
        now = self._clock()
        store = self.feedback.sync
        limited = user != CLI_USER and self._limit > 0
        if limited and store.recent(channel_ref, user, now - self._window) >= self._limit:
            hours = self._window / timedelta(hours=1)
            per = "hour" if hours == 1 else f"{hours:g} hours"
            raise RateLimited(
                f"You have given {self._limit} votes here in the last {per}, the most one "
                "person can: your votes so far count; try again later."
            )
        replaced = store.record(
            Feedback(channel_ref, user, found.key, vote, now, via)  # the paper's key
        )
        return Given(found, vote, replaced)

    async def give(self, channel_ref: str, user: str, paper: str, vote: Vote, via: str) -> Given:
        """Record `user`'s vote on `paper` (a Paper.key, arXiv id, arXiv URL or title) for
        the channel; their earlier vote on it is replaced. Raises UnknownPaper,
        AmbiguousPaper, RateLimited (FeedbackError: messages for the user) or StoreError."""
        return await aio.run(self._give, channel_ref, user, paper, vote, via)

    async def papers_of_message(self, channel_ref: str, message_id: str) -> list[str]:
        """The keys of the papers the bot's posted message `message_id` carries."""
        return await self.feedback(lambda s: s.papers_of_message(channel_ref, message_id))

    async def on_message(
        self, channel_ref: str, user: str, message_id: str, vote: Vote, via: str = VIA_REACTION
    ) -> Given | None:
        """A 👍/👎 on the bot's message `message_id`: the vote on its paper when it carries
        exactly one; None otherwise (not the bot's message, a digest of several papers), and
        None when the person is over the rate limit or the paper left the archive (a
        reaction has no answer to explain it in; logged)."""
        keys = await self.papers_of_message(channel_ref, message_id)
        if len(keys) != 1:
            return None
        try:
            return await self.give(channel_ref, user, keys[0], vote, via)
        except FeedbackError as e:
            log.info("reaction of %s in %s not counted: %s", user, channel_ref, e)
            return None

    async def on_unreact(
        self, channel_ref: str, user: str, message_id: str, vote: Vote
    ) -> Feedback | None:
        """A 👍/👎 removed from the bot's message `message_id`: when the message carries
        exactly one paper (the rule of `on_message`) and the person's vote on it is still
        the one that reaction gave (same direction, via a reaction), it is withdrawn and
        returned (`at`: when it was withdrawn); None otherwise: a vote they gave since by a
        button or a command stays theirs."""

        def work() -> Feedback | None:
            store = self.feedback.sync
            keys = store.papers_of_message(channel_ref, message_id)
            if len(keys) != 1:
                return None
            if not store.withdraw(channel_ref, user, keys[0], vote=vote, via=VIA_REACTION):
                return None
            return Feedback(channel_ref, user, keys[0], vote, self._clock(), VIA_REACTION)

        return await aio.run(work)

    async def listing(self, channel_ref: str) -> list[Feedback]:
        """The channel's votes, oldest first."""
        return await self.feedback(lambda s: s.votes(channel_ref))

    async def clear(self, channel_ref: str, paper: str | None = None) -> int:
        """Forget the channel's votes (on `paper` only, named as in `give`); how many.
        Raises UnknownPaper/AmbiguousPaper for a paper that cannot be resolved (a key that
        has votes is taken as it is, even when the paper left the archive)."""

        def work() -> int:
            store = self.feedback.sync
            if paper is None:
                return store.clear(channel_ref)
            keys = {v.paper_key for v in store.votes(channel_ref)}
            key = paper if paper in keys else resolve(paper, self.archive.sync, self._search).key
            return store.clear(channel_ref, key)

        return await aio.run(work)

    def learned_sync(self, channel_ref: str, papers: Sequence[Paper] | None) -> Learned | None:
        """`learned` in a worker thread (`papers` None: the archive's recent papers only)."""
        votes = self.feedback.sync.votes(channel_ref)
        if not votes:
            return None
        return learn(votes, voted_papers(votes, self.archive.sync), self._background(papers))

    def learned_of(
        self, channel_refs: Sequence[str], papers: Sequence[Paper]
    ) -> dict[str, Learned]:
        """Each channel's model, for those of `channel_refs` with enough feedback (one read
        of the votes for all of them: channels without feedback cost nothing more), with
        `papers` (those to be judged) as background. Blocking (a worker thread)."""
        out: dict[str, Learned] = {}
        found = self.feedback.sync.votes_of(channel_refs)
        if not found:
            return out
        background = self._background(papers)
        for ref, votes in found.items():
            model = learn(votes, voted_papers(votes, self.archive.sync), background)
            if model is not None:
                out[ref] = model
        return out

    def _background(self, papers: Sequence[Paper] | None) -> list[Paper]:
        """The papers a model learns its word statistics from, newest first: `papers` (those
        to be judged) and the archive's of the last BACKGROUND (a day's window alone can be
        a handful of papers). Blocking."""
        recent = self.archive.sync.since(self._clock() - BACKGROUND)
        out = {p.key: p for p in reversed(recent)}
        for p in papers or ():
            out.setdefault(p.key, p)
        return sorted(
            out.values(),
            key=lambda p: p.first_seen.timestamp() if p.first_seen else 0.0,
            reverse=True,
        )

    async def learned(
        self, channel_ref: str, papers: Sequence[Paper] | None = None
    ) -> Learned | None:
        """The channel's model trained on its votes, with `papers` (those to be judged; None:
        the archive's recent ones) as background; None when the channel has no (or too
        little) feedback."""
        return await aio.run(self.learned_sync, channel_ref, papers)
