"""The feedback simulation (issue 16, `paperboy eval feedback`): does a channel's digest get
better as its team reacts to it?

For each labelled topic, one channel subscribed to it lives through `2 * days` days. The
labelled papers are dealt into those days in a fixed pseudo-random order (by a hash of each
paper's key, so every day is a sample of the archive, the same on every run). Each day:

1. the digest selects among the day's papers through the real `Matcher.best`, with the
   model `bot.pipeline.learn.train` learned from the feedback of the earlier days only (and
   the archive so far as background), and without any model: both selections are scored
   against the labels *before* the day's reactions;
2. during the first `days` days, a simulated team reacts to up to `reactions` of the posted
   papers (best first) and to the `unsure` borderline papers the digest asks about
   (`bot.pipeline.match.asked`, the function the real digest asks through: by the model
   once the channel has one, by topic evidence before; not scored: they are questions, not
   selections) as the labels say (👍 relevant, 👎 not), the users taking turns, and finds
   `finds` relevant papers the digest missed through search (the ones with the most
   evidence for the topic first) and says "more" on them.

The last `days` days are scored with the model of the first `days` days (frozen): that is
"after five days of about ten reactions". The run is repeated with the days rotated by
`days`, so every labelled paper is scored once after the learning days; the report pools
them (`after`).

The model's and the integration's constants (`Influence`) are either fixed or chosen
leave-one-topic-out (`cross_validate`): each topic is scored with the Influence that did
best on the other topics only, as `bot.evaluate.cross_validate` chooses the matcher's
Tuning."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import product

from bot.evaluate import Label, TopicScore, labelled_papers, macro_f1, pooled, topic_score
from bot.models import Feedback, Paper, Vote
from bot.pipeline.learn import DEFAULT_INFLUENCE, Influence, train
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import ASKED, Matcher, asked, topics_profile

START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Team:
    """How the simulated team behaves."""

    days: int = 5  # days with reactions; as many days are scored after them
    reactions: int = 10  # reactions to posted papers per day, at most
    finds: int = 1  # missed relevant papers found through search per day ("more")
    users: int = 4  # people taking turns
    unsure: int = ASKED  # papers the digest asks about per day (`match.asked`, as shipped)


@dataclass(frozen=True, slots=True)
class Day:
    """One simulated day of one topic in one rotation: the scores of the selections with
    and without feedback (before the day's reactions), and how many votes were given."""

    rotation: int
    day: int  # 1-based
    papers: int
    learned_from: int  # votes the model was trained on (0: no model)
    with_feedback: TopicScore
    without: TopicScore
    reactions: int  # votes given this day (after scoring)


@dataclass(frozen=True, slots=True)
class TopicRun:
    key: str
    subscription: str
    influence: Influence
    days: tuple[Day, ...]

    def after(self, learn_days: int) -> tuple[TopicScore, TopicScore]:
        """Pooled scores of the days after the learning days (every rotation): with the
        frozen model, and without feedback."""
        late = [d for d in self.days if d.day > learn_days]
        return (
            pooled([[d.with_feedback] for d in late])[0],
            pooled([[d.without] for d in late])[0],
        )


@dataclass(frozen=True, slots=True)
class Simulation:
    team: Team
    runs: tuple[TopicRun, ...]
    min_labelled: int
    chosen_by: str  # "fixed" or "leave-one-topic-out"
    missing: int = 0

    def after(self) -> list[tuple[TopicScore, TopicScore]]:
        return [r.after(self.team.days) for r in self.runs]

    @property
    def macro_with(self) -> float:
        return macro_f1([w for w, _ in self.after()], self.min_labelled)

    @property
    def macro_without(self) -> float:
        return macro_f1([n for _, n in self.after()], self.min_labelled)

    @property
    def gain(self) -> float:
        return self.macro_with - self.macro_without


def deal(papers: Sequence[Paper], days: int) -> list[list[Paper]]:
    """The papers dealt into `days` days in a fixed pseudo-random order (sizes differ by at
    most one)."""
    order = sorted(papers, key=lambda p: (hashlib.sha1(p.key.encode()).hexdigest(), p.key))
    size, extra = divmod(len(order), days)
    out, at = [], 0
    for d in range(days):
        n = size + (1 if d < extra else 0)
        out.append(order[at : at + n])
        at += n
    return out


def run_topic(
    matcher: Matcher,
    found: Sequence[tuple[Paper, Label]],
    key: str,
    subscription: str,
    team: Team,
    influence: Influence,
) -> TopicRun:
    """One channel following `subscription`, labelled `key`, through every rotation."""
    papers = [p for p, _ in found]
    relevant = {p.key for p, lab in found if key in lab.topics}
    by_key = {p.key: p for p in papers}
    index = {p.key: i for i, p in enumerate(matcher.papers)}
    everything = frozenset(range(len(matcher.papers)))
    profile = topics_profile([subscription])
    evidence = matcher.topic_evidence(subscription)
    dealt = deal(papers, 2 * team.days)
    days: list[Day] = []
    for rotation in range(2):
        shift = rotation * team.days
        order = dealt[shift:] + dealt[:shift]
        votes: list[Feedback] = []
        seen: list[Paper] = []
        learned = None
        for d, today in enumerate(order):
            seen = today + seen  # newest first, as the archive hands them to train
            if d <= team.days:  # the model of the learning days, frozen after them
                learned = train(votes, by_key, seen, influence=influence)
            outside = everything - {index[p.key] for p in today}
            mine, _ = matcher.best(profile, drop=[outside], limit=0, learned=learned)
            plain, _ = matcher.best(profile, drop=[outside], limit=0)
            within = {p.key for p in today}
            given = 0
            if d < team.days:
                when = START + timedelta(days=d)
                posted = [m.paper.key for m in mine]
                questions = asked(
                    matcher, profile, drop=[outside], learned=learned, limit=team.unsure
                )
                shown = posted[: team.reactions] + [m.paper.key for m in questions]
                for n, k in enumerate(shown):
                    user = f"user{n % team.users}"
                    vote: Vote = 1 if k in relevant else -1
                    votes.append(Feedback("sim:chan", user, k, vote, when, "button"))
                    given += 1
                missed = [p.key for p in today if p.key in relevant and p.key not in shown]
                missed.sort(key=lambda k: (-_evidence(evidence, index[k]), k))
                for n, k in enumerate(missed[: team.finds]):
                    user = f"user{(given + n) % team.users}"
                    votes.append(Feedback("sim:chan", user, k, 1, when, "search"))
                given += len(missed[: team.finds])
            days.append(
                Day(
                    rotation,
                    d + 1,
                    len(today),
                    learned.votes if learned is not None else 0,
                    topic_score(key, subscription, [m.paper.key for m in mine], found, within),
                    topic_score(key, subscription, [m.paper.key for m in plain], found, within),
                    given,
                )
            )
    return TopicRun(key, subscription, influence, tuple(days))


def _evidence(evidence: Mapping[int, object], i: int) -> float:
    ev = evidence.get(i)
    return float(getattr(ev, "evidence", 0.0)) if ev is not None else 0.0


def simulate(
    labels: Sequence[Label],
    archive: Sequence[Paper],
    lexicon: Lexicon,
    topics: Mapping[str, str],
    *,
    team: Team = Team(),
    influence: Influence = DEFAULT_INFLUENCE,
    min_labelled: int = 5,
) -> Simulation:
    """Every topic simulated with one fixed `influence`."""
    found, missing = labelled_papers(labels, archive)
    matcher = Matcher([p for p, _ in found], lexicon)
    runs = tuple(run_topic(matcher, found, k, s, team, influence) for k, s in topics.items())
    return Simulation(team, runs, min_labelled, "fixed", len(missing))


# The Influences `cross_validate` chooses from (the default among them): how far the votes
# may move the threshold (`shift`; 0: never) and how much nearness to liked/disliked papers
# counts (`like`); the slope and band stay fixed a priori.
SHIFTS = (0.0, 0.5, 1.0, 2.0)
LIKES = (0.0, 4.0)


def influence_grid() -> tuple[Influence, ...]:
    base = DEFAULT_INFLUENCE
    grid = tuple(replace(base, shift=s, like=k) for s, k in product(SHIFTS, LIKES))
    return (base, *(g for g in grid if g != base))  # the default first: it wins ties


def cross_validate(
    labels: Sequence[Label],
    archive: Sequence[Paper],
    lexicon: Lexicon,
    topics: Mapping[str, str],
    *,
    team: Team = Team(),
    grid: Sequence[Influence] | None = None,
    min_labelled: int = 5,
) -> tuple[Simulation, dict[str, tuple[Influence, float]]]:
    """Each topic simulated with the Influence of `grid` whose macro-F1 after the learning
    days is highest on the other topics (ties: the earliest in the grid, the default first).
    Returns the simulation and, per held-out topic, the Influence and its training macro-F1."""
    grid = tuple(grid) if grid is not None else influence_grid()
    found, missing = labelled_papers(labels, archive)
    matcher = Matcher([p for p, _ in found], lexicon)
    runs = {
        inf: {k: run_topic(matcher, found, k, s, team, inf) for k, s in topics.items()}
        for inf in grid
    }
    chosen: dict[str, tuple[Influence, float]] = {}
    out = []
    for held in topics:

        def objective(inf: Influence, held: str = held) -> float:
            scores = [r.after(team.days)[0] for k, r in runs[inf].items() if k != held]
            return macro_f1(scores, min_labelled)

        best = max(range(len(grid)), key=lambda i: (round(objective(grid[i]), 9), -i))
        chosen[held] = (grid[best], objective(grid[best]))
        out.append(runs[grid[best]][held])
    sim = Simulation(team, tuple(out), min_labelled, "leave-one-topic-out", len(missing))
    return sim, chosen
