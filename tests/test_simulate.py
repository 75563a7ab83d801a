"""The feedback simulation (`bot.simulate`, `paperboy eval feedback`) on a small synthetic
labelled set: every day is scored before its reactions, the model learns only from earlier
days and is frozen after the learning days, the no-feedback scores are the plain
matcher's, and a held-out topic never chooses its own constants. The last test runs the
simulation on the development labels (../shared; skips without it) against issue 16's
target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from devlabels import DEV_TOPICS

from bot.cli import cli
from bot.evaluate import Label, evaluate, macro_f1
from bot.models import Paper
from bot.pipeline.learn import Influence
from bot.pipeline.lexicon import build
from bot.pipeline.match import ASKED
from bot.simulate import Team, cross_validate, deal, simulate

FILLER = "We describe the setup and report results on standard benchmarks."
TOPICS = {"coloring": "graph coloring", "folding": "protein folding"}
TEAM = Team(days=2, reactions=3, finds=1, users=2)


def corpus() -> tuple[list[Paper], list[Label]]:
    papers: list[Paper] = []
    labels: list[Label] = []

    def add(title: str, abstract: str, *topics: str) -> None:
        n = len(papers)
        papers.append(Paper(title=f"{title} {n}", abstract=f"{abstract} {FILLER}"))
        labels.append(Label(papers[-1].title, frozenset(topics)))

    for _ in range(6):
        add("Graph coloring bounds", "Graph coloring with chromatic vertex orders.", "coloring")
        add(
            "Register allocation heuristics",
            "Register allocation, as in graph coloring.",
            "coloring",
        )
        add("Protein folding dynamics", "Protein folding of residue chains.", "folding")
        add("Residue contact maps", "Residue contacts and amino acid chains.", "folding")
        add("Sourdough baking", "Dough and yeast; graph coloring of crusts aside.")
        add("Traffic forecasting", "Road traffic forecasting.")
    return papers, labels


def test_days_are_dealt_deterministically_and_evenly() -> None:
    papers, _ = corpus()
    days = deal(papers, 5)
    assert [len(d) for d in days] == [8, 7, 7, 7, 7]
    assert deal(list(reversed(papers)), 5) == days
    assert sorted(p.key for d in days for p in d) == sorted(p.key for p in papers)


def test_each_day_is_scored_before_its_reactions_and_frozen_after_learning() -> None:
    papers, labels = corpus()
    sim = simulate(labels, papers, build(papers), TOPICS, team=TEAM)
    for run in sim.runs:
        for rotation in (0, 1):
            days = [d for d in run.days if d.rotation == rotation]
            assert [d.day for d in days] == [1, 2, 3, 4]
            assert days[0].learned_from == 0  # day 1: nothing learned yet
            given = 0
            for d in days:
                # the model knows at most the votes of the days before
                assert d.learned_from <= given
                given += d.reactions
            assert all(d.reactions == 0 for d in days[TEAM.days :])
            assert days[2].learned_from == days[3].learned_from  # frozen


def test_without_feedback_the_scores_are_the_plain_matchers() -> None:
    papers, labels = corpus()
    lexicon = build(papers)
    sim = simulate(labels, papers, lexicon, TOPICS, team=TEAM)
    plain, _ = evaluate(labels, papers, lexicon, TOPICS)
    assert [n for _, n in sim.after()] == plain  # both rotations cover every paper once
    assert sim.macro_without == pytest.approx(macro_f1(plain))


@pytest.mark.parametrize(
    "unsure",
    [
        ASKED,
        1,  # fit once let the weight of nearness go negative here: 9 selected, not 6
    ],
)
def test_the_team_is_asked_about_borderline_papers_and_feedback_does_not_hurt(
    unsure: int,
) -> None:
    papers, labels = corpus()
    near = Influence(shift=2.0, like=8.0)
    team = Team(days=3, reactions=3, finds=0, users=2, unsure=unsure)
    sim = simulate(labels, papers, build(papers), TOPICS, team=team, influence=near)
    (with_fb, without), _ = sim.after()
    # "Register allocation" and "Sourdough" both say graph coloring only in passing
    assert (without.selected, without.true_positives, without.labelled) == (6, 6, 12)
    coloring = sim.runs[0]
    # more votes than posted papers: the unsure ones were asked about
    assert sum(d.reactions for d in coloring.days) > team.reactions
    # The deal puts every "Register allocation" paper in one rotation's learning days, so
    # after them only "Sourdough" papers are borderline: the team said no to those it was
    # asked about, and no more of them may be added.
    assert with_fb.selected - with_fb.true_positives == 0, with_fb
    assert with_fb.f1 >= without.f1  # the threshold itself: tests/pipeline/test_match_learned.py
    assert sim.gain >= 0


def test_a_held_out_topic_never_chooses_its_own_constants() -> None:
    papers, labels = corpus()
    grid = (Influence(shift=0.0, like=0.0), Influence())
    sim, chosen = cross_validate(labels, papers, build(papers), TOPICS, team=TEAM, grid=grid)
    # relabel the held-out topic's papers at random: its own choice must not change
    scrambled = [
        Label(lab.title, lab.topics | {"coloring"} if i % 3 == 0 else lab.topics - {"coloring"})
        for i, lab in enumerate(labels)
    ]
    _, again = cross_validate(scrambled, papers, build(papers), TOPICS, team=TEAM, grid=grid)
    assert again["coloring"] == chosen["coloring"]
    assert [r.key for r in sim.runs] == list(TOPICS)
    assert sim.chosen_by == "leave-one-topic-out"


def invoke(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "paperboy.yaml"
    path.write_text(f"database: {tmp_path / 'p.db'}\n")
    return path


def dump(papers: list[Paper], path: Path) -> Path:
    """A Hugging Face daily-papers page dump of `papers` (what `paperboy ingest` reads):
    the page header, then each title and abstract as paragraphs."""
    head = "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nNov 20\n\n"
    path.write_text(head + "".join(f"{p.title}\n\n{p.abstract}\n\n" for p in papers))
    return path


def test_eval_feedback_prints_days_and_json(config: Path, tmp_path: Path) -> None:
    papers, labels = corpus()
    invoke(config, "ingest", str(dump(papers, tmp_path / "dump.txt")))
    path = tmp_path / "labels.jsonl"
    path.write_text(
        "\n".join(json.dumps({"title": lab.title, "topics": sorted(lab.topics)}) for lab in labels)
    )
    args = ["eval", "feedback", str(path), "--topic", "coloring=graph coloring"]
    args += ["--topic", "folding=protein folding", "--days", "2", "--reactions", "3"]
    out = invoke(config, *args, "--fixed")
    assert "F1 per day" in out and "macro-F1" in out and "gain" in out
    report = json.loads(invoke(config, *args, "--json"))
    assert report["chosen_by"] == "leave-one-topic-out" and report["missing"] == 0
    assert [t["topic"] for t in report["topics"]] == ["coloring", "folding"]
    assert len(report["topics"][0]["days"]) == 8  # 4 days, 2 rotations


# The `shared/` folder beside the repository (conftest's `shared_dir`, which is function
# scoped: the simulation below runs once per module).
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="module")
def dev_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    shared_dir = SHARED
    if not shared_dir.is_dir():
        pytest.skip(
            "../shared not present: the dev-label simulation needs the shared/ folder "
            "beside the repo"
        )
    seeds = sorted((shared_dir / "seeds").glob("*.txt"))
    labels = shared_dir / "relevance" / "dev-labels.jsonl"
    if not seeds or not labels.is_file():
        pytest.skip(f"no seed dumps or dev labels under {shared_dir}")
    tmp = tmp_path_factory.mktemp("feedback")
    config = tmp / "paperboy.yaml"
    config.write_text(f"database: {tmp / 'p.db'}\n")
    invoke(config, "ingest", *map(str, seeds))
    topic_args = [a for k, v in DEV_TOPICS.items() for a in ("--topic", f"{k}={v}")]
    report = json.loads(invoke(config, "eval", "feedback", str(labels), *topic_args, "--json"))
    assert isinstance(report, dict)
    print(json.dumps({k: v for k, v in report.items() if k != "topics"}))
    return report


@pytest.mark.shared
@pytest.mark.slow
def test_feedback_never_hurts_a_dev_topic(dev_report: dict[str, object]) -> None:
    topics = dev_report["topics"]
    assert isinstance(topics, list)
    for t in topics:
        assert t["after"]["f1"] >= t["after"]["f1_without"], t["topic"]


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.xfail(
    reason="issue 16 target not met: the leave-one-topic-out simulation measures a "
    "macro-F1 gain of about +0.003 after five days, not >= 0.05 (an oracle trained on "
    "every label of the learning days gains < +0.01 with these features)",
    strict=True,
)
def test_feedback_meets_the_issue_target(dev_report: dict[str, object]) -> None:
    gain = dev_report["gain"]
    assert isinstance(gain, float) and gain >= 0.05
