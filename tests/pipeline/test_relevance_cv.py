"""The cross-validated relevance measurement (`bot.evaluate.cross_validate`, `paperboy eval
relevance --cv`): a held-out topic or dump never influences the Tuning it is scored with,
the folds cover each topic and dump once, and the report's numbers are the hand-computed
ones on a small synthetic labelled set. The last test runs --cv on the development labels
(../shared; skips without it) and prints the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from devlabels import DEV_TOPICS

from bot.cli import cli
from bot.evaluate import (
    CrossValidation,
    Label,
    choose,
    cross_validate,
    evaluate,
    tuning_grid,
)
from bot.models import Paper
from bot.pipeline.evidence import DEFAULT_TUNING, Tuning
from bot.pipeline.lexicon import build
from bot.pipeline.match import Matcher, topics_profile

TOPICS = {
    "moe": "mixture of experts",
    "speech": "speech recognition",
    "translation": "machine translation",
    "code": "code generation",
}
# Thresholds only: 0.55 lets one abstract mention (evidence 0.6) select a paper, the
# default 0.65 needs the title or two mentions, 1.5 the title.
GRID = tuning_grid(thresholds=(0.55, 0.65, 1.5), abstract_weights=(0.6,), related_weights=(0.15,))
LOW = Tuning(threshold=0.55)
FILLER = "We describe the setup and report results on standard benchmarks."
SUBJECTS = ("graph coloring", "protein folding", "weather forecasting", "image denoising")


def paper(n: int, title: str, abstract: str) -> Paper:
    return Paper(title=title, abstract=f"{abstract} {FILLER}", arxiv_id=f"2501.{n:05d}")


def corpus() -> tuple[list[Paper], dict[str, set[str]]]:
    """Papers and the topic keys each is labelled with.

    moe: 3 papers with the phrase in the title, 3 with one abstract mention (all relevant).
    speech: 6 title papers (relevant), 3 passing abstract mentions (not relevant).
    translation: 6 title papers, 4 with one abstract mention (all relevant).
    code: 3 title papers (too few for the macro). Plus 8 papers about nothing labelled.
    """
    papers: list[Paper] = []
    topics: dict[str, set[str]] = {}

    def add(title: str, abstract: str, *keys: str) -> None:
        p = paper(len(papers), title, abstract)
        papers.append(p)
        topics[p.title] = set(keys)

    for key, phrase, titled, mentioned, relevant_mentions in (
        ("moe", "mixture of experts", 3, 3, True),
        ("speech", "speech recognition", 6, 3, False),
        ("translation", "machine translation", 6, 4, True),
        ("code", "code generation", 3, 0, True),
    ):
        for i in range(titled):
            add(f"{phrase.title()} at scale, part {i}", f"A study of {phrase}.", key)
        for i in range(mentioned):
            subject = SUBJECTS[i % len(SUBJECTS)]
            add(
                f"{subject.title()} revisited, {key} note {i}",
                f"We study {subject}, related to {phrase}.",
                *((key,) if relevant_mentions else ()),
            )
    for i in range(8):
        subject = SUBJECTS[i % len(SUBJECTS)]
        add(f"{subject.title()} baseline {i}", f"A baseline for {subject}.")
    return papers, topics


def labels_of(topics: dict[str, set[str]]) -> list[Label]:
    return [Label(title, frozenset(keys)) for title, keys in topics.items()]


def dumps_of(papers: list[Paper], n: int = 2) -> dict[str, str]:
    """Papers dealt round-robin per kind into `n` dumps, so each dump has the same mix."""
    return {p.key: f"dump-{i % n}" for i, p in enumerate(papers)}


def run(topics: dict[str, set[str]], dump_of: dict[str, str] | None = None) -> CrossValidation:
    papers, _ = corpus()
    report, missing = cross_validate(
        labels_of(topics),
        papers,
        build(papers),
        TOPICS,
        dump_of if dump_of is not None else dumps_of(papers),
        grid=GRID,
    )
    assert missing == []
    return report


def flipped(topics: dict[str, set[str]], key: str, titles: set[str] | None = None) -> None:
    """Flip topic `key`'s label (relevant <-> not) on `titles` (default: every paper)."""
    for title, keys in topics.items():
        if titles is None or title in titles:
            keys ^= {key}


# --- the hand-computed case -----------------------------------------------------------------


def test_report_numbers_match_the_hand_computed_case() -> None:
    _, topics = corpus()
    report = run(topics)
    counts = {s.key: (s.labelled, s.selected, s.true_positives) for s in report.plain}
    # defaults: one abstract mention (0.6) is below the threshold (0.65)
    assert counts == {
        "moe": (6, 3, 3),
        "speech": (6, 6, 6),
        "translation": (10, 6, 6),
        "code": (3, 3, 3),
    }
    assert report.plain_macro == pytest.approx((2 / 3 + 1 + 0.75) / 3)  # code: < 5 labels
    # every fold's training topics prefer 0.55: moe's fold (speech 0.8 + translation 1.0
    # against 1.0 + 0.75), speech's (1.0 + 1.0 against 0.667 + 0.75), translation's ...
    assert [f.tuning for f in report.topic_folds] == [LOW] * 4
    held = {s.key: (s.labelled, s.selected, s.true_positives) for s in report.loto}
    assert held == {
        "moe": (6, 6, 6),
        "speech": (6, 9, 6),  # its own passing mentions now selected: P 6/9
        "translation": (10, 10, 10),
        "code": (3, 3, 3),
    }
    assert report.loto_macro == pytest.approx((1 + 0.8 + 1) / 3)
    assert report.topic_folds[0].train_macro == pytest.approx((0.8 + 1) / 2)
    assert [s.f1 for f in report.topic_folds for s in f.plain] == [s.f1 for s in report.plain]
    # each dump holds the same mix, so both choose 0.55; pooled, the LOTO counts again
    assert [f.tuning for f in report.dump_folds] == [LOW, LOW]
    assert [(s.labelled, s.selected, s.true_positives) for s in report.lodo_pooled] == [
        (6, 6, 6),
        (6, 9, 6),
        (10, 10, 10),
        (3, 3, 3),
    ]
    assert report.lodo_macro == pytest.approx((1 + 0.8 + 1) / 3)
    assert report.unassigned == 0


def test_plain_scores_are_the_non_cv_evaluation() -> None:
    papers, topics = corpus()
    scores, _ = evaluate(labels_of(topics), papers, build(papers), TOPICS)
    assert tuple(scores) == run(topics).plain


# --- folds ----------------------------------------------------------------------------------


def test_folds_cover_every_topic_and_every_dump_once() -> None:
    papers, topics = corpus()
    dump_of = dumps_of(papers, 3)
    report = run(topics, dump_of)
    assert [f.held_out for f in report.topic_folds] == list(TOPICS)
    assert [s.key for s in report.loto] == list(TOPICS)
    assert [f.held_out for f in report.dump_folds] == ["dump-0", "dump-1", "dump-2"]
    # every labelled paper is held out in exactly one dump fold
    assert [s.labelled for s in report.lodo_pooled] == [s.labelled for s in report.plain]
    for f in report.dump_folds:
        in_dump = {t for p in papers if dump_of[p.key] == f.held_out for t in topics[p.title]}
        assert {s.key for s in f.scores if s.labelled} == in_dump


def test_papers_of_no_dump_are_counted_and_left_out_of_the_dump_folds() -> None:
    papers, topics = corpus()
    dump_of = dumps_of(papers)
    del dump_of[papers[0].key]
    report = run(topics, dump_of)
    assert report.unassigned == 1
    assert sum(s.labelled for s in report.lodo_pooled) == sum(s.labelled for s in report.plain) - 1


@pytest.mark.parametrize("key", list(TOPICS))
def test_a_held_out_topic_never_influences_its_own_tuning(key: str) -> None:
    _, topics = corpus()
    before = run(topics)
    flipped(topics, key)
    after = run(topics)
    i = list(TOPICS).index(key)
    assert after.topic_folds[i].tuning == before.topic_folds[i].tuning
    assert after.topic_folds[i].train_macro == before.topic_folds[i].train_macro
    assert after.topic_folds[i].scores != before.topic_folds[i].scores  # the flip was seen


def test_a_fold_follows_its_training_topics() -> None:
    """The counterpart: change the training topics and the fold's tuning changes. With the
    passing mentions of moe and translation not relevant, speech's fold (trained on
    translation alone: moe and code have < 5 labels) keeps the default threshold."""
    _, topics = corpus()
    for key in ("moe", "translation"):
        flipped(topics, key, {t for t, keys in topics.items() if key in keys and "note" in t})
    report = run(topics)
    speech = report.topic_folds[list(TOPICS).index("speech")]
    assert speech.tuning == DEFAULT_TUNING
    assert speech.scores == speech.plain


@pytest.mark.parametrize("dump", ["dump-0", "dump-1", "dump-2"])
def test_a_held_out_dump_never_influences_its_own_tuning(dump: str) -> None:
    papers, topics = corpus()
    dump_of = dumps_of(papers, 3)
    before = run(topics, dump_of)
    in_dump = {p.title for p in papers if dump_of[p.key] == dump}
    for key in TOPICS:
        flipped(topics, key, in_dump)
    after = run(topics, dump_of)
    i = int(dump[-1])
    assert after.dump_folds[i].tuning == before.dump_folds[i].tuning
    assert after.dump_folds[i].train_macro == before.dump_folds[i].train_macro
    assert after.dump_folds[i].scores != before.dump_folds[i].scores
    others = [f.train_macro for j, f in enumerate(after.dump_folds) if j != i]
    assert others != [f.train_macro for j, f in enumerate(before.dump_folds) if j != i]


def test_ties_go_to_the_fewest_changes_from_the_defaults() -> None:
    grid = (LOW, Tuning(threshold=0.55, w_related=0.3), DEFAULT_TUNING)
    assert choose(grid, lambda t: 0.5) == (DEFAULT_TUNING, 0.5)
    assert choose(grid[:2], lambda t: 0.5) == (LOW, 0.5)
    assert choose(grid, lambda t: t.w_related) == (grid[1], 0.3)


def test_the_default_tuning_is_todays_matcher() -> None:
    papers, _ = corpus()
    lexicon = build(papers)
    assert Matcher(papers, lexicon).tuning == DEFAULT_TUNING == Tuning()
    assert Matcher(papers, lexicon).threshold == 0.65
    low = Matcher(papers, lexicon, LOW)
    mention = "Graph Coloring revisited, moe note 0"
    profile = topics_profile(["mixture of experts"])
    assert mention in {m.paper.title for m in low.match(profile)}
    assert mention not in {m.paper.title for m in Matcher(papers, lexicon).match(profile)}


# --- the command ----------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DUMP = REPO_ROOT / "bot" / "data" / "sample-dump.txt"
SAMPLE_MOE = (
    "Shared-Prefix Experts: Cutting All-to-All Communication in Mixture-of-Experts Inference",
    "Moebius Convolutions: Equivariant Networks on the Riemann Sphere for Omnidirectional Images",
)


def invoke(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "paperboy.yaml"
    path.write_text(f"database: {tmp_path / 'p.db'}\n")
    return path


def test_eval_relevance_cv_prints_both_folds_and_json(config: Path, tmp_path: Path) -> None:
    invoke(config, "ingest", str(SAMPLE_DUMP))
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "\n".join(
            json.dumps({"title": t, "topics": ["moe"] if "Mixture" in t else []})
            for t in SAMPLE_MOE
        )
    )
    args = ["eval", "relevance", str(labels), "--topic", "moe=moe"]
    plain = invoke(config, *args)
    assert "leave-one" not in plain  # the non-cv output is as it was
    out = invoke(config, *args, "--cv")
    assert "leave-one-topic-out" in out and "leave-one-dump-out" in out
    assert "sample-dump.txt:" in out
    assert "cross-validated" in out and "plain" in out
    report = json.loads(invoke(config, *args, "--cv", "--json"))
    assert report["plain"]["scores"][0]["selected"] == 1
    assert [f["held_out"] for f in report["leave_one_topic_out"]["folds"]] == ["moe"]
    assert [f["held_out"] for f in report["leave_one_dump_out"]["folds"]] == ["sample-dump.txt"]
    # one topic, one dump: nothing to train on, so the defaults
    assert report["leave_one_topic_out"]["folds"][0]["tuning"] == {}


@pytest.mark.shared
def test_eval_relevance_cv_on_the_dev_labels(config: Path, shared_dir: Path) -> None:
    seeds = sorted((shared_dir / "seeds").glob("*.txt"))
    labels = shared_dir / "relevance" / "dev-labels.jsonl"
    if not seeds or not labels.is_file():
        pytest.skip(f"no seed dumps or dev labels under {shared_dir}")
    invoke(config, "ingest", *map(str, seeds))
    topic_args = [a for k, v in DEV_TOPICS.items() for a in ("--topic", f"{k}={v}")]
    out = invoke(config, "eval", "relevance", str(labels), *topic_args, "--cv")
    print(out)
    report = json.loads(
        invoke(config, "eval", "relevance", str(labels), *topic_args, "--cv", "--json")
    )
    assert report["missing"] == 0
    assert report["plain"]["macro_f1"] == pytest.approx(0.865, abs=0.005)
    assert len(report["leave_one_topic_out"]["folds"]) == len(DEV_TOPICS)
    assert len(report["leave_one_dump_out"]["folds"]) == len(seeds)
    assert report["leave_one_dump_out"]["unassigned"] == 0
    for name in ("plain", "leave_one_topic_out", "leave_one_dump_out"):
        print(f"{name}: macro-F1 {report[name]['macro_f1']:.3f}")
