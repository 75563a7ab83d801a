"""Relevance evaluation against labelled papers: precision, recall and F1 per topic, and the
honest, cross-validated measurement (`cross_validate`): each topic scored with the Tuning
chosen on the other topics only (leave-one-topic-out), each seed dump with the Tuning chosen
on the other dumps only (leave-one-dump-out)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from itertools import product
from pathlib import Path

from bot.errors import PaperboyError
from bot.models import Paper, normalize_title
from bot.pipeline.evidence import DEFAULT_TUNING, Tuning
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import Matcher, topics_profile
from bot.pipeline.semantic import Semantic


@dataclass(frozen=True, slots=True)
class Label:
    title: str
    topics: frozenset[str]


@dataclass(frozen=True, slots=True)
class TopicScore:
    key: str
    subscription: str
    labelled: int
    selected: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.selected if self.selected else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.labelled if self.labelled else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_labels(path: Path) -> list[Label]:
    """Read a labels file: one JSON object per line with `title` and `topics`."""
    labels = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise PaperboyError(f"cannot read labels {path}: {e.strerror or e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            labels.append(Label(str(obj["title"]), frozenset(map(str, obj.get("topics", [])))))
        except (ValueError, KeyError, TypeError) as e:
            raise PaperboyError(f"{path}:{n}: not a label line ({e.__class__.__name__})") from None
    return labels


def evaluate(
    labels: Sequence[Label],
    archive: Sequence[Paper],
    lexicon: Lexicon,
    topics: Mapping[str, str],
    semantic: Semantic | None = None,
) -> tuple[list[TopicScore], list[str]]:
    """Score each topic (key -> subscription) over the labelled papers found in `archive`,
    with semantic evidence when `semantic` is given.

    Returns the scores and the labelled titles missing from the archive.
    """
    found, missing = labelled_papers(labels, archive)
    selections = select(found, lexicon, topics, DEFAULT_TUNING, semantic)
    scores = [topic_score(key, sub, selections[key], found, None) for key, sub in topics.items()]
    return scores, missing


def labelled_papers(
    labels: Sequence[Label], archive: Sequence[Paper]
) -> tuple[list[tuple[Paper, Label]], list[str]]:
    """The labelled papers found in `archive` (by normalized title), and the titles missing."""
    by_title = {p.title_norm: p for p in archive}
    found: list[tuple[Paper, Label]] = []
    missing = []
    for label in labels:
        paper = by_title.get(normalize_title(label.title))
        if paper is None:
            missing.append(label.title)
        else:
            found.append((paper, label))
    return found, missing


def select(
    found: Sequence[tuple[Paper, Label]],
    lexicon: Lexicon,
    topics: Mapping[str, str],
    tuning: Tuning,
    semantic: Semantic | None = None,
) -> dict[str, frozenset[str]]:
    """Paper keys each topic's subscription selects among the labelled papers, with `tuning`
    (and semantic evidence when `semantic` is given)."""
    matcher = Matcher([p for p, _ in found], lexicon, tuning, semantic)
    return {
        key: frozenset(m.paper.key for m in matcher.match(topics_profile([sub])))
        for key, sub in topics.items()
    }


def topic_score(
    key: str,
    subscription: str,
    selected: Collection[str],
    found: Sequence[tuple[Paper, Label]],
    within: Collection[str] | None,
) -> TopicScore:
    """The TopicScore of a selection, over the labelled papers whose key is in `within`
    (None: all of them)."""
    keys = {p.key for p, _ in found if within is None or p.key in within}
    relevant = {p.key for p, lab in found if key in lab.topics and p.key in keys}
    chosen = keys & set(selected)
    return TopicScore(key, subscription, len(relevant), len(chosen), len(chosen & relevant))


def macro_f1(scores: Sequence[TopicScore], min_labelled: int = 5) -> float:
    """Mean F1 over topics with at least `min_labelled` relevant papers."""
    counted = [s.f1 for s in scores if s.labelled >= min_labelled]
    return sum(counted) / len(counted) if counted else 0.0


# The grid `cross_validate` chooses a Tuning from: the decision threshold, the weight of an
# abstract mention and of a related word (pseudo-relevance feedback); the defaults are in it.
THRESHOLDS = (0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1.05, 1.2)
ABSTRACT_WEIGHTS = (0.45, 0.6, 0.75)
RELATED_WEIGHTS = (0.0, 0.15, 0.3)
# With semantic evidence (bot.pipeline.semantic), also the similarity a related term needs
# and its weight (0: off; then the similarity does not matter).
SEMANTIC_SIMILARITIES = (0.6, 0.65, 0.7)
SEMANTIC_WEIGHTS = (0.0, 0.35)
# ... and how near a term must be to the topic's most similar one to count whatever the
# similarity (Tuning.semantic_within; 0: off), with the default similarity.
SEMANTIC_WITHIN = (0.0, 0.02, 0.05)
# ... and whether a related term in the abstract alone counts (Tuning.semantic_abstract).
SEMANTIC_ABSTRACT = (0.0, 1.0)


def tuning_grid(
    thresholds: Sequence[float] = THRESHOLDS,
    abstract_weights: Sequence[float] = ABSTRACT_WEIGHTS,
    related_weights: Sequence[float] = RELATED_WEIGHTS,
) -> tuple[Tuning, ...]:
    """Every combination of the given values, the other constants at their defaults."""
    return tuple(
        Tuning(threshold=t, w_abstract=a, w_related=r)
        for t, a, r in product(thresholds, abstract_weights, related_weights)
    )


def semantic_grid(
    base: Sequence[Tuning] | None = None,
    similarities: Sequence[float] = SEMANTIC_SIMILARITIES,
    weights: Sequence[float] = SEMANTIC_WEIGHTS,
    within: Sequence[float] = SEMANTIC_WITHIN,
    abstract: Sequence[float] = SEMANTIC_ABSTRACT,
) -> tuple[Tuning, ...]:
    """Every Tuning of `base` (default `tuning_grid()`) with: semantic evidence off (weight
    0) once; every similarity with every weight > 0 (the other semantic constants at their
    defaults); and at the default similarity, every weight > 0 with every `within`
    (relative cut) and `abstract` share."""
    d = DEFAULT_TUNING
    options: set[tuple[float, float, float, float]] = {
        (d.semantic_similarity, 0.0, d.semantic_within, d.semantic_abstract)
    }
    for s, w in product(similarities, weights):
        if w > 0:
            options.add((s, w, d.semantic_within, d.semantic_abstract))
    for w, r, a in product(weights, within, abstract):
        if w > 0:
            options.add((d.semantic_similarity, w, r, a))
    return tuple(
        replace(t, semantic_similarity=s, w_semantic=w, semantic_within=r, semantic_abstract=a)
        for t in (base if base is not None else tuning_grid())
        for s, w, r, a in sorted(options)
    )


def changes(tuning: Tuning) -> dict[str, float]:
    """The constants of `tuning` that differ from the defaults."""
    return {
        f.name: getattr(tuning, f.name)
        for f in fields(Tuning)
        if getattr(tuning, f.name) != getattr(DEFAULT_TUNING, f.name)
    }


def choose(grid: Sequence[Tuning], objective: Callable[[Tuning], float]) -> tuple[Tuning, float]:
    """The Tuning of `grid` with the highest objective; ties go to the one that changes the
    fewest defaults, then to the first in the grid."""
    best = max(
        range(len(grid)),
        key=lambda i: (round(objective(grid[i]), 9), -len(changes(grid[i])), -i),
    )
    return grid[best], objective(grid[best])


@dataclass(frozen=True, slots=True)
class Fold:
    """One held-out part (a topic key or a dump name): the Tuning chosen without it, its
    training macro-F1, and the held-out scores with that Tuning (`scores`) and with the
    defaults (`plain`)."""

    held_out: str
    tuning: Tuning
    train_macro: float
    scores: tuple[TopicScore, ...]
    plain: tuple[TopicScore, ...]


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """`cross_validate`'s report. `lodo_pooled`: per topic, the held-out dumps' counts
    summed (each dump selected with its own fold's Tuning); `unassigned`: labelled papers
    in no known dump (not in any leave-one-dump-out fold)."""

    plain: tuple[TopicScore, ...]
    topic_folds: tuple[Fold, ...]
    dump_folds: tuple[Fold, ...]
    lodo_pooled: tuple[TopicScore, ...]
    unassigned: int
    min_labelled: int

    @property
    def plain_macro(self) -> float:
        return macro_f1(self.plain, self.min_labelled)

    @property
    def loto(self) -> tuple[TopicScore, ...]:
        """Each topic's held-out score (one per leave-one-topic-out fold)."""
        return tuple(s for f in self.topic_folds for s in f.scores)

    @property
    def loto_macro(self) -> float:
        return macro_f1(self.loto, self.min_labelled)

    @property
    def lodo_macro(self) -> float:
        return macro_f1(self.lodo_pooled, self.min_labelled)


def pooled(parts: Sequence[Sequence[TopicScore]]) -> tuple[TopicScore, ...]:
    """Per topic, the counts of every part summed (parts list the same topics in order)."""
    if not parts:
        return ()
    return tuple(
        TopicScore(
            group[0].key,
            group[0].subscription,
            sum(s.labelled for s in group),
            sum(s.selected for s in group),
            sum(s.true_positives for s in group),
        )
        for group in zip(*parts, strict=True)
    )


def cross_validate(
    labels: Sequence[Label],
    archive: Sequence[Paper],
    lexicon: Lexicon,
    topics: Mapping[str, str],
    dump_of: Mapping[str, str],
    *,
    grid: Sequence[Tuning] | None = None,
    min_labelled: int = 5,
    semantic: Semantic | None = None,
) -> tuple[CrossValidation, list[str]]:
    """Leave-one-topic-out and leave-one-dump-out scores of the matcher over the labelled
    papers in `archive`; `dump_of` maps a paper key to the dump it comes from.

    A fold's Tuning is chosen from `grid` (default `tuning_grid()`) by macro-F1 (topics with
    >= `min_labelled` labels) on the other topics / the other dumps' papers only; the
    held-out part is then scored with it. With `semantic`, the matcher has semantic
    evidence and the default grid is `semantic_grid()`. Returns the report and the missing
    titles."""
    if grid is None:
        grid = semantic_grid() if semantic is not None else tuning_grid()
    grid = tuple(grid)
    if DEFAULT_TUNING not in grid:
        grid = (DEFAULT_TUNING, *grid)
    found, missing = labelled_papers(labels, archive)
    chosen = {t: select(found, lexicon, topics, t, semantic) for t in grid}

    def scores(t: Tuning, keys: Sequence[str], within: Collection[str] | None) -> list[TopicScore]:
        return [topic_score(k, topics[k], chosen[t][k], found, within) for k in keys]

    def objective(keys: Sequence[str], within: Collection[str] | None) -> Callable[[Tuning], float]:
        return lambda t: macro_f1(scores(t, keys, within), min_labelled)

    everything = list(topics)
    plain = tuple(scores(DEFAULT_TUNING, everything, None))
    topic_folds = []
    for held in everything:
        others = [k for k in everything if k != held]
        tuning, train = choose(grid, objective(others, None))
        topic_folds.append(
            Fold(
                held,
                tuning,
                train,
                tuple(scores(tuning, [held], None)),
                tuple(scores(DEFAULT_TUNING, [held], None)),
            )
        )
    dumps = sorted({dump_of[p.key] for p, _ in found if p.key in dump_of})
    dump_folds = []
    for held in dumps:
        test = {p.key for p, _ in found if dump_of.get(p.key) == held}
        train_keys = {p.key for p, _ in found if dump_of.get(p.key) not in (None, held)}
        tuning, train = choose(grid, objective(everything, train_keys))
        dump_folds.append(
            Fold(
                held,
                tuning,
                train,
                tuple(scores(tuning, everything, test)),
                tuple(scores(DEFAULT_TUNING, everything, test)),
            )
        )
    report = CrossValidation(
        plain,
        tuple(topic_folds),
        tuple(dump_folds),
        pooled([f.scores for f in dump_folds]),
        sum(1 for p, _ in found if p.key not in dump_of),
        min_labelled,
    )
    return report, missing
