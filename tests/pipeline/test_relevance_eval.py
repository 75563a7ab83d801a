"""Relevance measured on labelled papers: the bar (macro-F1 >= 0.85 over the topics with
>= 5 labels, none below 0.70), through the library and through `paperboy eval relevance`.

The real-data tests need ../shared (seeds and dev labels) and skip without it; the sample
dump bundled with the package is always present.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from devlabels import DEV_TOPICS as SUBSCRIPTIONS

from bot.cli import cli
from bot.evaluate import TopicScore, evaluate, load_labels, macro_f1
from bot.models import Paper
from bot.pipeline.lexicon import build
from bot.pipeline.merge import merge
from bot.sources.dump import parse_dump

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DUMP = REPO_ROOT / "bot" / "data" / "sample-dump.txt"

MIN_LABELLED = 5
MACRO_BAR = 0.85
TOPIC_BAR = 0.70

# bot/data/sample-dump.txt: papers about Mixture-of-Experts, and look-alikes that are not
SAMPLE_MOE = {
    "Shared-Prefix Experts: Cutting All-to-All Communication in Mixture-of-Experts Inference",
    "MoE-Lite: Distilling Conditional Computation into Phone-Sized Language Models",
    "Expert Specialization Emerges from Data Curricula in Mixture of Experts Vision Transformers",
    "Upcycling Without Forgetting: Converting Dense Checkpoints into Fine-Grained "
    "Mixture-of-Experts Models",
}
SAMPLE_NOT_MOE = {
    "Moebius Convolutions: Equivariant Networks on the Riemann Sphere for Omnidirectional Images",
    "Beyond Expert-Level: A Benchmark of Research Problems Curated by 200 Domain Experts",
}
MACRO_LINE = re.compile(r"macro-F1 \(topics with >= 5 labelled\): (\d\.\d{3})")


def seeds(shared: Path) -> list[Path]:
    files = sorted((shared / "seeds").glob("*.txt"))
    if not files:
        pytest.skip(f"no seed dumps in {shared / 'seeds'}")
    return files


def labels_file(shared: Path) -> Path:
    path = shared / "relevance" / "dev-labels.jsonl"
    if not path.is_file():
        pytest.skip(f"no relevance labels at {path}")
    return path


def parse_seeds(files: list[Path]) -> list[Paper]:
    """The seed dumps as the archive would hold them: one paper per key, merged."""
    papers: dict[str, Paper] = {}
    for f in files:
        result = parse_dump(f.read_bytes(), source=f.name)
        assert result.papers and not result.rejected, f.name
        for p in result.papers:
            papers[p.key] = merge(papers[p.key], p) if p.key in papers else p
    return list(papers.values())


def table(scores: Sequence[TopicScore]) -> str:
    lines = [f"{'topic':<12}{'subscription':<22}{'lab':>5}{'sel':>5}{'P':>7}{'R':>7}{'F1':>7}"]
    for s in scores:
        lines.append(
            f"{s.key:<12}{s.subscription:<22}{s.labelled:>5}{s.selected:>5}"
            f"{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}"
        )
    return "\n".join(lines)


def invoke(config: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "paperboy.yaml"
    path.write_text(f"database: {tmp_path / 'p.db'}\n")
    return path


# --- the bar, through the library -----------------------------------------------------------


@pytest.mark.shared
def test_relevance_meets_the_bar_on_the_dev_labels(shared_dir: Path) -> None:
    papers = parse_seeds(seeds(shared_dir))
    labels = load_labels(labels_file(shared_dir))
    assert len(papers) == len(labels) == 268

    scores, missing = evaluate(labels, papers, build(papers), SUBSCRIPTIONS)
    print("\n" + table(scores))
    macro = macro_f1(scores, MIN_LABELLED)
    print(f"macro-F1 (topics with >= {MIN_LABELLED} labelled): {macro:.3f}")

    assert missing == []
    assert [s.key for s in scores] == list(SUBSCRIPTIONS)
    counted = [s for s in scores if s.labelled >= MIN_LABELLED]
    assert len(counted) == 6, "six topics have enough labels to be scored"
    assert macro >= MACRO_BAR
    weak = {s.key: round(s.f1, 3) for s in counted if s.f1 < TOPIC_BAR}
    assert not weak, f"topics below {TOPIC_BAR}: {weak}"


# --- the bar, through the command -----------------------------------------------------------


@pytest.mark.shared
def test_eval_relevance_command_prints_the_table_and_meets_the_bar(
    config: Path, shared_dir: Path
) -> None:
    out = invoke(config, "ingest", *map(str, seeds(shared_dir)))
    assert "archive: 268 papers" in out
    topic_args = [a for k, v in SUBSCRIPTIONS.items() for a in ("--topic", f"{k}={v}")]
    out = invoke(config, "eval", "relevance", str(labels_file(shared_dir)), *topic_args)
    print("\n" + out)
    assert "not in the archive" not in out
    for key, subscription in SUBSCRIPTIONS.items():
        assert re.search(rf"^{key}\s+{re.escape(subscription)}\s+\d+", out, re.M), key
    macro = MACRO_LINE.search(out)
    assert macro is not None, out
    assert float(macro.group(1)) >= MACRO_BAR


@pytest.mark.shared
def test_match_moe_json_selects_only_mixture_of_experts_papers(
    config: Path, shared_dir: Path
) -> None:
    invoke(config, "ingest", *map(str, seeds(shared_dir)), str(SAMPLE_DUMP))
    out = invoke(config, "match", "moe", "--json", "--limit", "0")
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(rows) >= 35
    titles = {r["title"] for r in rows}
    for r in rows:
        reason = r["reason"].lower()
        assert "mixture of experts" in reason or "moe" in reason, r
        assert "moebius" not in r["title"].lower(), r
        assert 0.5 <= r["score"] < 1
    assert titles >= SAMPLE_MOE
    assert "OLMoE: Open Mixture-of-Experts Language Models" in titles
    assert not titles & SAMPLE_NOT_MOE
    # human experts are not Mixture-of-Experts
    assert (
        "Programming Every Example: Lifting Pre-training Data Quality like Experts at Scale"
        not in (titles)
    )
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)


# --- the bundled sample (always present) ----------------------------------------------------


def test_match_moe_on_the_bundled_sample_dump(config: Path) -> None:
    out = invoke(config, "ingest", str(SAMPLE_DUMP))
    assert "parsed 36" in out
    rows = [
        json.loads(line)
        for line in invoke(config, "match", "moe", "--json", "--limit", "0").splitlines()
        if line.strip()
    ]
    titles = {r["title"] for r in rows}
    assert titles >= SAMPLE_MOE
    assert not titles & SAMPLE_NOT_MOE
    assert all("mixture of experts" in r["reason"] or "moe" in r["reason"] for r in rows)


def test_match_moe_text_output_explains_the_acronym(config: Path) -> None:
    invoke(config, "ingest", str(SAMPLE_DUMP))
    out = invoke(config, "match", "moe")
    assert "('moe' = 'mixture of experts' (learned from the archive))" in out
    assert "Moebius" not in out
    assert re.search(r"^\d+ papers match 'moe'", out, re.M)


def test_eval_relevance_with_no_labelled_paper_in_the_archive_fails(
    config: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text(
        "".join(
            json.dumps({"title": title, "topics": ["moe"]}) + "\n" for title in sorted(SAMPLE_MOE)
        )
    )
    args = ["--config", str(config), "eval", "relevance", str(labels), "--topic", "moe=moe"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "none of the 4 labelled papers is in the archive" in result.output
    assert "paperboy ingest" in result.output and "macro-F1" not in result.output
    invoke(config, "ingest", str(SAMPLE_DUMP))
    assert "macro-F1" in invoke(config, *args[2:])


def test_eval_relevance_with_an_empty_labels_file_fails(config: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n")
    args = ["--config", str(config), "eval", "relevance", str(labels), "--topic", "moe=moe"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "no labels" in result.output
