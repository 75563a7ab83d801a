"""Relevance evaluation against labelled papers: precision, recall and F1 per topic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import PaperboyError
from bot.models import Paper, normalize_title
from bot.pipeline.lexicon import Lexicon
from bot.pipeline.match import Matcher, topics_profile


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
) -> tuple[list[TopicScore], list[str]]:
    """Score each topic (key -> subscription) over the labelled papers found in `archive`.

    Returns the scores and the labelled titles missing from the archive.
    """
    by_title = {p.title_norm: p for p in archive}
    found: list[tuple[Paper, Label]] = []
    missing = []
    for label in labels:
        paper = by_title.get(normalize_title(label.title))
        if paper is None:
            missing.append(label.title)
        else:
            found.append((paper, label))
    matcher = Matcher([p for p, _ in found], lexicon)
    scores = []
    for key, subscription in topics.items():
        selected = {m.paper.key for m in matcher.match(topics_profile([subscription]))}
        relevant = {p.key for p, lab in found if key in lab.topics}
        scores.append(
            TopicScore(key, subscription, len(relevant), len(selected), len(selected & relevant))
        )
    return scores, missing


def macro_f1(scores: Sequence[TopicScore], min_labelled: int = 5) -> float:
    """Mean F1 over topics with at least `min_labelled` relevant papers."""
    counted = [s.f1 for s in scores if s.labelled >= min_labelled]
    return sum(counted) / len(counted) if counted else 0.0
