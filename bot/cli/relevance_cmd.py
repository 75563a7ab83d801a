"""Relevance from the command line: `paperboy match` (the archive papers a subscription
selects, best first, with score and reason) and `paperboy eval relevance` (precision,
recall and F1 per topic against labelled papers)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, Context, fail, pass_ctx
from bot.errors import PaperboyError
from bot.evaluate import evaluate, load_labels, macro_f1
from bot.pipeline.match import topics_profile
from bot.store.db import location


@click.command("match")
@click.argument("subscription")
@click.option(
    "--exclude", "excludes", multiple=True, metavar="TERM", help="Drop papers about TERM."
)
@click.option("--limit", default=20, show_default=True, help="Show at most this many (0: all).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def match_cmd(
    ctx: Context, subscription: str, excludes: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """Archive papers that SUBSCRIPTION selects, best first, with score and reason."""
    with ctx.app() as app:
        matcher = app.matcher(app.archive.all())
        concept = matcher.concept(subscription)
        matches = matcher.match(topics_profile([subscription], excludes))
    shown = matches if limit == 0 else matches[:limit]
    if as_json:
        for m in shown:
            click.echo(
                json.dumps(
                    {
                        "key": m.paper.key,
                        "title": m.paper.title,
                        "score": round(m.score, 4),
                        "reason": "; ".join(m.reasons),
                    },
                    ensure_ascii=False,
                )
            )
        return
    for note in concept.notes:
        click.echo(f"({note})")
    if not matches:
        click.echo(f"no archived paper is about '{subscription}'")
        return
    click.echo(
        f"{len(matches)} papers match '{subscription}'"
        + (f", showing {len(shown)}" if len(shown) < len(matches) else "")
    )
    for m in shown:
        ident = f"{m.paper.arxiv_id}  " if m.paper.arxiv_id else ""
        click.echo(f"{m.score:.2f}  {ident}{m.paper.title}")
        click.echo(f"      {'; '.join(m.reasons)}")


@click.group("eval")
def eval_group() -> None:
    """Measure Paperboy against labelled data."""


@eval_group.command("relevance")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--topic",
    "topics",
    multiple=True,
    required=True,
    metavar="KEY=SUBSCRIPTION",
    help="A labelled topic key and the subscription a user would type (repeatable).",
)
@click.option("--min-labelled", default=5, show_default=True, help="Topics in the macro average.")
@pass_ctx
def eval_relevance(ctx: Context, labels: Path, topics: tuple[str, ...], min_labelled: int) -> None:
    """Precision, recall and F1 per topic over the labelled papers in the archive.

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
    with ctx.app() as app:
        papers = app.archive.all()
        scores, missing = evaluate(label_list, papers, app.lexicon(papers), pairs)
    if len(missing) == len(label_list):
        fail(
            f"none of the {len(label_list)} labelled papers is in the archive "
            f"({location(ctx.settings.database)}): ingest them first, e.g. "
            "`paperboy ingest ../shared/seeds/*.txt` for the development labels",
            EXIT_FAILURE,
        )
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
