"""A channel's taste, learned from its feedback (issue 16): a linear classifier over tf-idf
features of each paper's title, abstract and keywords. Pure.

`train` turns a channel's votes ("more like this" = +1, "not for us" = -1) into a `Learned`
model: the weighted centroid of the liked papers minus that of the disliked ones (Rocchio),
both shrunk toward zero by a prior worth `PRIOR` votes, so a model learned from a couple of
votes leans only a little. `Learned.score` is the signed margin of a paper against the
archive's average paper (> 0: more like what the channel liked than a typical paper);
`Learned.reason` names the liked (or disliked) paper it resembles most and the words that
weigh most.

One person's clicks cannot flood a channel: each user's votes together weigh at most
`USER_CAP` votes (more votes from the same user are scaled down), so with the prior one
user moves the model at most `USER_CAP / (USER_CAP + PRIOR)` of the way a team can.

The archive (`background`) gives document frequencies and the average paper the margin is
measured from; only papers nobody voted on count there.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from bot.models import Feedback, Paper
from bot.pipeline.text import is_content, stem, words

# Each user's votes together weigh at most USER_CAP votes.
USER_CAP = 12.0
# The centroids are shrunk by a prior worth PRIOR votes: sum(w x) / (sum(w) + PRIOR).
PRIOR = 4.0
# How much the background centroid is subtracted from the liked papers' (times their mass).
BACKGROUND = 1.0
# The margin is in standard deviations of the background's scores, but never divided by
# less than this (a tiny or uniform background would make every margin huge).
MIN_SPREAD = 0.003
# Fewer votes than this (after dropping papers the caller does not know): no model.
MIN_VOTES = 2
# A title word counts as TITLE_TF occurrences; keywords as one each.
TITLE_TF = 2.0
# The background is at most this many papers (the first ones given; callers pass the newest).
MAX_BACKGROUND = 2_000
# `reason` says nothing when |score| is below this (in standard deviations of the archive).
REASON_MARGIN = 0.5
REASON_WORDS = 3
TITLE_CHARS = 60

Vector = dict[str, float]


@dataclass(frozen=True, slots=True)
class Influence:
    """How much a channel's model changes what its digest selects and how it ranks
    (`bot.pipeline.match.Matcher`): it adds a paper the typed topics do not select when the
    margin is at least `add` (and, with `near`, only papers with some evidence for one of the
    topics), drops a selected one at a margin of `-drop` or below, and moves each selected
    paper's score by `rank` times its margin. The simulation (`bot.simulate`) chooses `add`,
    `drop` and `near` leave-one-topic-out; `rank` is fixed a priori (it orders, it does not
    select)."""

    add: float = 4.5
    drop: float = 3.0
    near: bool = False
    rank: float = 0.05


DEFAULT_INFLUENCE = Influence()


@lru_cache(maxsize=20_000)
def _terms(title: str, abstract: str, keywords: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """Term frequencies of a paper: content-word stems and adjacent stem pairs."""
    tf: defaultdict[str, float] = defaultdict(float)

    def add(text: str, weight: float) -> None:
        prev: str | None = None
        for w in words(text):
            if not is_content(w) or w.isdigit():
                prev = None
                continue
            s = stem(w)
            tf[s] += weight
            if prev is not None:
                tf[f"{prev} {s}"] += weight
            prev = s

    add(title, TITLE_TF)
    add(abstract, 1.0)
    for k in keywords:
        add(k, 1.0)
    return tuple(tf.items())


def terms(paper: Paper) -> tuple[tuple[str, float], ...]:
    return _terms(paper.title, paper.abstract, tuple(paper.ai_keywords))


@lru_cache(maxsize=20_000)
def _surface(title: str, abstract: str) -> tuple[tuple[str, str], ...]:
    """stem -> the first word of the paper with that stem (to show a stem as a word)."""
    out: dict[str, str] = {}
    for w in words(f"{title} {abstract}"):
        if is_content(w) and not w.isdigit():
            out.setdefault(stem(w), w)
    return tuple(out.items())


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(k, 0.0) for k, v in a.items())


@dataclass(frozen=True)
class Learned:
    """A channel's model trained on its feedback (tf-idf linear classifier, per-user weight cap)."""

    weights: Mapping[str, float]
    bias: float
    idf: Mapping[str, float]
    unseen_idf: float
    liked: tuple[tuple[Paper, Vector], ...]
    disliked: tuple[tuple[Paper, Vector], ...]
    votes: int
    users: int
    display: Mapping[str, str] = field(default_factory=dict)
    influence: Influence = DEFAULT_INFLUENCE

    def vector(self, paper: Paper) -> Vector:
        """The paper's L2-normalized tf-idf vector (sublinear tf)."""
        idf, unseen = self.idf, self.unseen_idf
        v = {t: (1.0 + math.log(n)) * idf.get(t, unseen) for t, n in terms(paper) if n > 0}
        norm = math.sqrt(sum(x * x for x in v.values()))
        return {t: x / norm for t, x in v.items()} if norm else {}

    def score(self, paper: Paper) -> float:
        """Signed margin; > 0 leans "more like this", < 0 "not for us"."""
        w = self.weights
        return sum(x * w.get(t, 0.0) for t, x in self.vector(paper).items()) - self.bias

    def reason(self, paper: Paper) -> str | None:
        """Why the model leans as it does on `paper`, e.g. "feedback: like 'Title…' (+0.42;
        clinical, patient)"; None when it has (almost) nothing to say."""
        x = self.vector(paper)
        s = sum(v * self.weights.get(t, 0.0) for t, v in x.items()) - self.bias
        if abs(s) < REASON_MARGIN:
            return None
        pool = self.liked if s > 0 else self.disliked
        near = max(pool, key=lambda pv: (_dot(x, pv[1]), pv[0].key), default=None)
        parts = [f"{s:+.2f}"]
        sign = 1.0 if s > 0 else -1.0
        top = sorted(
            ((sign * v * self.weights.get(t, 0.0), t) for t, v in x.items() if " " not in t),
            reverse=True,
        )
        shown = [self.display.get(t, t) for c, t in top[:REASON_WORDS] if c > 0]
        if shown:
            parts.append(", ".join(shown))
        what = "like" if s > 0 else "unlike"
        if near is not None and _dot(x, near[1]) > 0:
            title = near[0].title
            if len(title) > TITLE_CHARS:
                title = title[: TITLE_CHARS - 1].rstrip() + "…"
            if s > 0:
                return f"feedback: like '{title}' ({'; '.join(parts)})"
            return f"feedback: like '{title}', not for us ({'; '.join(parts)})"
        return f"feedback: {what} this channel's votes ({'; '.join(parts)})"


def vote_weights(votes: Sequence[Feedback]) -> dict[tuple[str, str], float]:
    """Weight of each (user, paper) vote: the latest vote of a user on a paper counts, and a
    user's votes together weigh at most USER_CAP."""
    latest: dict[tuple[str, str], Feedback] = {}
    for fb in sorted(votes, key=lambda f: f.at):
        latest[(fb.user, fb.paper_key)] = fb
    per_user: Counter[str] = Counter(u for u, _ in latest)
    return {(u, k): latest[(u, k)].vote * min(1.0, USER_CAP / per_user[u]) for (u, k) in latest}


def train(
    votes: Sequence[Feedback],
    papers: Mapping[str, Paper],
    background: Sequence[Paper],
    *,
    influence: Influence = DEFAULT_INFLUENCE,
) -> Learned | None:
    """The channel's model from its `votes` on `papers` (by key; votes on papers not given
    are ignored), with `background` (archive papers) for document frequencies and the
    average paper. None when fewer than MIN_VOTES votes remain."""
    known = [fb for fb in votes if fb.paper_key in papers]
    weights = vote_weights(known)
    if len(weights) < MIN_VOTES:
        return None
    per_paper: defaultdict[str, float] = defaultdict(float)
    for (_, key), w in weights.items():
        per_paper[key] += w
    voted = [papers[k] for k in sorted(per_paper)]
    voted_keys = set(per_paper)
    bg = [p for p in background[:MAX_BACKGROUND] if p.key not in voted_keys]
    corpus = [*voted, *bg]
    df: Counter[str] = Counter()
    for p in corpus:
        df.update(t for t, _ in terms(p))
    n = len(corpus)
    idf = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
    unseen = math.log(1 + n) + 1.0
    blank = Learned({}, 0.0, idf, unseen, (), (), 0, 0)
    vectors = {p.key: blank.vector(p) for p in voted}
    pos = {k: w for k, w in per_paper.items() if w > 0}
    neg = {k: -w for k, w in per_paper.items() if w < 0}
    w_vec: defaultdict[str, float] = defaultdict(float)
    for group, sign in ((pos, 1.0), (neg, -1.0)):
        total = sum(group.values()) + PRIOR
        for k, wk in group.items():
            for t, x in vectors[k].items():
                w_vec[t] += sign * wk * x / total
    bg_vectors = [blank.vector(p) for p in bg]
    if bg_vectors and pos:
        # the average archive paper as a negative: words common everywhere weigh less
        share = BACKGROUND / (len(bg_vectors) * (1.0 + BACKGROUND))
        for v in bg_vectors:
            for t, x in v.items():
                if t in w_vec:
                    w_vec[t] -= share * x
    weights_map = {t: v for t, v in w_vec.items() if v != 0.0}
    bias, spread = 0.0, 1.0
    if bg_vectors:
        raw = [_dot(v, weights_map) for v in bg_vectors]
        bias = sum(raw) / len(raw)
        var = sum((r - bias) ** 2 for r in raw) / len(raw)
        spread = max(math.sqrt(var), MIN_SPREAD)
    weights_map = {t: v / spread for t, v in weights_map.items()}
    bias /= spread
    display: dict[str, str] = {}
    for p in voted:
        for st, word in _surface(p.title, p.abstract):
            display.setdefault(st, word)
    return Learned(
        weights=weights_map,
        bias=bias,
        idf=idf,
        unseen_idf=unseen,
        liked=tuple((papers[k], vectors[k]) for k in sorted(pos)),
        disliked=tuple((papers[k], vectors[k]) for k in sorted(neg)),
        votes=len(weights),
        users=len({u for u, _ in weights}),
        display=display,
        influence=influence,
    )
