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
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

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
# The spread of the background's margins is measured on its first SPREAD_SAMPLE papers.
SPREAD_SAMPLE = 500
# Vectors a model remembers (by paper key), at most.
MAX_VECTORS = 50_000
# `reason` says nothing when |score| is below this (in standard deviations of the archive).
REASON_MARGIN = 0.5
REASON_WORDS = 3
# `reason` names the voted paper nearest by the paper's NEAR_TERMS heaviest words.
NEAR_TERMS = 24
TITLE_CHARS = 60

Vector = dict[str, float]


@dataclass(frozen=True, slots=True)
class Influence:
    """How a channel's votes change what its digest selects (`bot.pipeline.match.Matcher`).

    The channel's decision is a logistic model over three features of a paper: `t`, its
    topic evidence against the matcher's threshold (`evidence_feature`: 0 at the threshold),
    and `k`, how much closer it is to the nearest paper the channel liked than to the
    nearest it disliked (cosine of tf-idf vectors). Before any vote the model is today's
    decision: logit = `slope` * t (select when t >= 0). The votes move it by maximum a
    posteriori fitting with Gaussian priors centred on that decision: the bias (a threshold
    shift) with standard deviation `shift`, the weight of `k` with `like`; the slope stays
    within `slope / 2`. So a couple of votes change little, a channel that keeps saying
    "more" to borderline papers lowers its threshold, and papers very like a disliked one
    drop. Only papers with some evidence for a topic (or already selected) can be selected.
    `rank` moves each selected paper's score by that times its margin (`Learned.score`, the
    Rocchio margin: it orders, it does not select). Only votes within about `band` of the
    threshold (a Gaussian weight on `t`) fit the bias and `like`: a vote far above or below
    the threshold says little about where it lies. `bot.simulate` chooses `shift` and `like`
    leave-one-topic-out."""

    slope: float = 10.0
    shift: float = 1.0
    like: float = 0.0
    band: float = 0.3
    rank: float = 0.05

    @property
    def never(self) -> bool:
        """True when the votes cannot change a decision (shift and like 0)."""
        return self.shift == 0.0 and self.like == 0.0


DEFAULT_INFLUENCE = Influence()


# The evidence feature is log((evidence + EVIDENCE_FLOOR * T) / (T + EVIDENCE_FLOOR * T)) for
# the matcher's threshold T: 0 at the threshold, about -2.4 without any evidence.
EVIDENCE_FLOOR = 0.1
# Newton steps of the fit, at most.
FIT_STEPS = 25


def evidence_feature(evidence: float, threshold: float) -> float:
    """`t`: a paper's topic evidence against the decision threshold, 0 at the threshold."""
    floor = EVIDENCE_FLOOR * threshold
    return math.log((max(evidence, 0.0) + floor) / (threshold + floor))


@dataclass(frozen=True, slots=True)
class Rule:
    """A channel's decision: select a paper when `logit(t, k)` > 0 (see `Influence`)."""

    bias: float
    slope: float
    like: float

    def logit(self, t: float, k: float) -> float:
        return self.bias + self.slope * t + self.like * k


def fit(learned: Learned, features: Mapping[str, float]) -> Rule:
    """The maximum a posteriori logistic model of the channel's votes over (1, t, k) with
    Gaussian priors centred on today's decision (`Influence`); the slope of `t` stays
    `Influence.slope`. `k` of a voted paper leaves that paper out, so the model never sees a
    paper's own vote in its features. Votes on papers without any evidence for the topics
    are left out of the fit (they still count as neighbours for `k`)."""
    how = learned.influence
    floor = evidence_feature(0.0, 1.0)
    rows = []
    for key, vector, w in learned.voted:
        t = features.get(key, floor)
        if w == 0.0 or t <= floor:
            continue  # no evidence at all: says nothing about where the threshold lies
        local = math.exp(-0.5 * (t / how.band) ** 2) if how.band > 0 else 1.0
        rows.append(((1.0, t, learned._nearness(vector, key)), w > 0, abs(w) * local))
    prior = (0.0, how.slope, 0.0)
    theta = _map(rows, prior, (how.shift, 0.0, how.like))
    if theta[2] < 0:
        # Nearness to the liked papers can only count for a paper: a negative weight would
        # add the papers nearest a "not for us" (a fit on few votes can get there).
        theta = _map(rows, prior, (how.shift, 0.0, 0.0))
    return Rule(bias=theta[0], slope=theta[1], like=theta[2])


def _map(
    rows: Sequence[tuple[tuple[float, float, float], bool, float]],
    prior: tuple[float, float, float],
    sds: tuple[float, float, float],
) -> list[float]:
    """The maximum a posteriori (bias, slope, like) by Newton's method; a parameter whose
    prior has no spread stays exactly at its prior (`like` 0: nearness is never computed)."""
    precision = [1.0 / (sd * sd) if sd > 0 else 1e12 for sd in sds]
    theta = list(prior)
    for _ in range(FIT_STEPS):
        grad = [precision[i] * (theta[i] - prior[i]) for i in range(3)]
        hess = [[precision[i] if i == j else 0.0 for j in range(3)] for i in range(3)]
        for x, up, c in rows:
            z = sum(a * b for a, b in zip(theta, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            r = c * (p - (1.0 if up else 0.0))
            h = c * p * (1.0 - p)
            for i in range(3):
                grad[i] += r * x[i]
                for j in range(3):
                    hess[i][j] += h * x[i] * x[j]
        step = _solve(hess, grad)
        theta = [a - b for a, b in zip(theta, step, strict=True)]
        if max(abs(v) for v in step) < 1e-6:
            break
    return [p if sd == 0 else v for v, p, sd in zip(theta, prior, sds, strict=True)]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """x with a x = b (Gaussian elimination with partial pivoting; a is positive definite)."""
    n = len(b)
    m = [[*row, v] for row, v in zip(a, b, strict=True)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            for k in range(c, n + 1):
                m[r][k] -= f * m[c][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


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


class Space:
    """The tf-idf space of an archive: document frequencies of its first MAX_BACKGROUND
    papers (`background`), each paper's L2-normalized tf-idf vector (sublinear tf,
    remembered by key), and the background's vectors, their sum and an inverted index.
    Channels whose models are trained on the same background share one Space
    (`space_of`): a paper is tokenized and weighed once, whatever the number of channels.
    Filled lazily; safe to share between threads (each entry is computed whole, then set)."""

    def __init__(self, background: Sequence[Paper]) -> None:
        self.background = tuple(background[:MAX_BACKGROUND])
        df: Counter[str] = Counter()
        for p in self.background:
            df.update(t for t, _ in terms(p))
        n = len(self.background)
        self.idf: dict[str, float] = {t: math.log((1 + n) / (1 + d)) + 1.0 for t, d in df.items()}
        self.unseen = math.log(1 + n) + 1.0
        self._vectors: dict[str, Vector] = {}
        self._bg: tuple[tuple[Vector, ...], dict[str, float]] | None = None

    def vector(self, paper: Paper) -> Vector:
        """The paper's L2-normalized tf-idf vector (sublinear tf); remembered by key."""
        found = self._vectors.get(paper.key)
        if found is not None:
            return found
        idf, unseen = self.idf, self.unseen
        v = {t: (1.0 + math.log(n)) * idf.get(t, unseen) for t, n in terms(paper) if n > 0}
        norm = math.sqrt(sum(x * x for x in v.values()))
        out = {t: x / norm for t, x in v.items()} if norm else {}
        if len(self._vectors) < MAX_VECTORS:
            self._vectors[paper.key] = out
        return out

    def backdrop(self) -> tuple[tuple[Vector, ...], dict[str, float]]:
        """The background's vectors (in order) and their sum."""
        if self._bg is None:
            vectors = tuple(self.vector(p) for p in self.background)
            total: defaultdict[str, float] = defaultdict(float)
            for v in vectors:
                for t, x in v.items():
                    total[t] += x
            self._bg = (vectors, dict(total))
        return self._bg


# Spaces remembered by their background's keys (a digest's channels share one).
SPACES = 4
_spaces: dict[tuple[str, ...], Space] = {}
_spaces_lock = threading.Lock()


def space_of(background: Sequence[Paper]) -> Space:
    """The Space of `background` (its first MAX_BACKGROUND papers), shared with every model
    trained on the same papers (the last SPACES backgrounds are remembered)."""
    key = tuple(p.key for p in background[:MAX_BACKGROUND])
    with _spaces_lock:
        found = _spaces.get(key)
    if found is not None:
        return found
    made = Space(background)
    with _spaces_lock:
        found = _spaces.setdefault(key, made)
        while len(_spaces) > SPACES:
            del _spaces[next(iter(_spaces))]
    return found


@dataclass(frozen=True)
class Learned:
    """A channel's model trained on its feedback (tf-idf linear classifier, per-user weight cap)."""

    weights: Mapping[str, float]
    bias: float
    space: Space
    liked: tuple[tuple[Paper, Vector], ...]
    disliked: tuple[tuple[Paper, Vector], ...]
    votes: int
    users: int
    display: Mapping[str, str] = field(default_factory=dict)
    influence: Influence = DEFAULT_INFLUENCE
    # every voted paper: its key, tf-idf vector, and summed (capped) vote weight, by key
    voted: tuple[tuple[str, Vector, float], ...] = ()
    # term -> (place in `voted`, weight): the voted vectors as an inverted index
    postings: Mapping[str, tuple[tuple[int, float], ...]] = field(default_factory=dict)
    _rules: dict[tuple[object, ...], Rule] = field(default_factory=dict, compare=False, repr=False)
    _near: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def vector(self, paper: Paper) -> Vector:
        """The paper's tf-idf vector in the model's `Space`."""
        return self.space.vector(paper)

    def score(self, paper: Paper) -> float:
        """Signed margin; > 0 leans "more like this", < 0 "not for us"."""
        w = self.weights
        return sum(x * w.get(t, 0.0) for t, x in self.vector(paper).items()) - self.bias

    def similarities(self, vector: Mapping[str, float]) -> dict[int, float]:
        """Cosine of a paper's `vector` with each voted paper it shares a term with (by
        place in `voted`)."""
        out: defaultdict[int, float] = defaultdict(float)
        postings = self.postings
        for t, x in vector.items():
            found = postings.get(t)
            if found is not None:
                for j, y in found:
                    out[j] += x * y
        return out

    def near(self, paper: Paper) -> float:
        """`k`: the cosine with the nearest liked paper minus that with the nearest disliked
        one (0 for a side without votes). Remembered by key."""
        found = self._near.get(paper.key)
        if found is None:
            found = self._nearness(self.vector(paper), None)
            if len(self._near) < MAX_VECTORS:
                self._near[paper.key] = found
        return found

    def _nearness(self, vector: Mapping[str, float], leave_out: str | None) -> float:
        best_up = best_down = 0.0
        voted = self.voted
        for j, c in self.similarities(vector).items():
            key, _, w = voted[j]
            if key == leave_out or w == 0.0:
                continue
            if w > 0:
                best_up = max(best_up, c)
            else:
                best_down = max(best_down, c)
        return best_up - best_down

    def rule(self, features: Mapping[str, float], key: tuple[object, ...] = ()) -> Rule:
        """The channel's decision rule fitted to its votes, given `features`: the evidence
        feature `t` of each voted paper (by key; a voted paper missing there counts as one
        without evidence). Cached under `key` (the caller's name for the features, e.g. the
        profile's topics)."""
        found = self._rules.get(key) if key else None
        if found is None:
            found = fit(self, features)
            if key:
                self._rules[key] = found
        return found

    def reason(self, paper: Paper) -> str | None:
        """Why the model leans as it does on `paper`, e.g. "feedback: like 'Title…' (+0.42;
        clinical, patient)"; None when it has (almost) nothing to say."""
        x = self.vector(paper)
        weights = self.weights
        s = sum(v * weights.get(t, 0.0) for t, v in x.items()) - self.bias
        if abs(s) < REASON_MARGIN:
            return None
        sign = 1.0 if s > 0 else -1.0
        top = sorted(((sign * v * weights.get(t, 0.0), t) for t, v in x.items()), reverse=True)
        # the nearest voted paper on the side the model leans to, by the words that weigh
        # most (NEAR_TERMS of them: a name for the reason, not the decision's nearness)
        side = {p.key for p, _ in (self.liked if s > 0 else self.disliked)}
        voted = self.voted
        near: tuple[float, str] | None = None
        heavy = {t: x[t] for c, t in top[:NEAR_TERMS] if c > 0}
        for j, c in self.similarities(heavy).items():
            k = voted[j][0]
            if k in side and c > 0 and (near is None or (c, k) > near):
                near = (c, k)
        parts = [f"{s:+.2f}"]
        words_ = [(c, t) for c, t in top if " " not in t]
        shown = [self.display.get(t, t) for c, t in words_[:REASON_WORDS] if c > 0]
        if shown:
            parts.append(", ".join(shown))
        what = "like" if s > 0 else "unlike"
        if near is not None:
            title = next(p.title for p, _ in (*self.liked, *self.disliked) if p.key == near[1])
            if len(title) > TITLE_CHARS:
                title = title[: TITLE_CHARS - 1].rstrip() + "…"
            if s > 0:
                return f"feedback: like '{title}' ({'; '.join(parts)})"
            return f"feedback: close to '{title}', which was not for us ({'; '.join(parts)})"
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
    space = space_of(background)
    vectors = {p.key: space.vector(p) for p in voted}
    pos = {k: w for k, w in per_paper.items() if w > 0}
    neg = {k: -w for k, w in per_paper.items() if w < 0}
    w_vec: defaultdict[str, float] = defaultdict(float)
    for group, sign in ((pos, 1.0), (neg, -1.0)):
        total = sum(group.values()) + PRIOR
        for k, wk in group.items():
            for t, x in vectors[k].items():
                w_vec[t] += sign * wk * x / total
    # the background without the voted papers: its sum, and its vectors by an index
    bg_vectors, bg_sum = space.backdrop()
    out = [i for i, p in enumerate(space.background) if p.key in per_paper]
    n_bg = len(bg_vectors) - len(out)
    if n_bg > 0 and pos:
        # the average archive paper as a negative: words common everywhere weigh less
        share = BACKGROUND / (n_bg * (1.0 + BACKGROUND))
        inside: defaultdict[str, float] = defaultdict(float)  # voted papers of the background
        for i in out:
            for t, x in bg_vectors[i].items():
                inside[t] += x
        for t in list(w_vec):
            w_vec[t] -= share * (bg_sum.get(t, 0.0) - inside.get(t, 0.0))
    weights_map = {t: v for t, v in w_vec.items() if v != 0.0}
    bias, spread = 0.0, 1.0
    if n_bg > 0:
        # the mean exactly (the background's sum), the spread from the first SPREAD_SAMPLE
        skip = set(out)
        voted_bg = sum(_dot(bg_vectors[i], weights_map) for i in out)
        bias = (_dot(weights_map, bg_sum) - voted_bg) / n_bg
        sample = (i for i in range(len(bg_vectors)) if i not in skip)
        raw = [_dot(bg_vectors[i], weights_map) for i in islice(sample, SPREAD_SAMPLE)]
        var = math.fsum((r - bias) ** 2 for r in raw) / len(raw)
        spread = max(math.sqrt(var), MIN_SPREAD)
    weights_map = {t: v / spread for t, v in weights_map.items()}
    bias /= spread
    display: dict[str, str] = {}
    for p in voted:
        for st, word in _surface(p.title, p.abstract):
            display.setdefault(st, word)
    voted_rows = tuple((k, vectors[k], per_paper[k]) for k in sorted(per_paper))
    index: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
    for j, (_, vec, _) in enumerate(voted_rows):
        for t, x in vec.items():
            index[t].append((j, x))
    return Learned(
        voted=voted_rows,
        postings={t: tuple(v) for t, v in index.items()},
        weights=weights_map,
        bias=bias,
        space=space,
        liked=tuple((papers[k], vectors[k]) for k in sorted(pos)),
        disliked=tuple((papers[k], vectors[k]) for k in sorted(neg)),
        votes=len(weights),
        users=len({u for u, _ in weights}),
        display=display,
        influence=influence,
    )
