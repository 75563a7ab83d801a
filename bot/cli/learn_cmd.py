"""`paperboy eval feedback`: the feedback simulation (`bot.simulate`) from the command line:
F1 per simulated day with and without the channel's learned model, and macro-F1 after the
learning days, each topic with the model's constants chosen on the other topics."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from bot.cli.common import EXIT_CONFIG, EXIT_FAILURE, Context, fail, pass_ctx
from bot.cli.relevance_cmd import eval_group, labelled_topics
from bot.errors import PaperboyError
from bot.evaluate import TopicScore, load_labels
from bot.pipeline.learn import Influence
from bot.pipeline.match import ASKED
from bot.simulate import Simulation, Team, cross_validate, simulate


@eval_group.command("feedback")
@labelled_topics
@click.option("--days", default=5, show_default=True, help="Days with reactions (as many after).")
@click.option("--reactions", default=10, show_default=True, help="Reactions per day, at most.")
@click.option(
    "--finds", default=1, show_default=True, help="Missed papers found by search per day."
)
@click.option("--users", default=4, show_default=True, help="People in the simulated team.")
@click.option(
    "--unsure",
    default=ASKED,
    show_default=True,
    help="Borderline papers the digest asks about per day (marked unsure; not scored); "
    "the default is what the digest asks.",
)
@click.option("--min-labelled", default=5, show_default=True, help="Topics in the macro average.")
@click.option(
    "--fixed",
    is_flag=True,
    help="Use the default model constants for every topic instead of choosing them "
    "leave-one-topic-out.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@pass_ctx
def eval_feedback(
    ctx: Context,
    labels: Path,
    topics: tuple[str, ...],
    days: int,
    reactions: int,
    finds: int,
    users: int,
    unsure: int,
    min_labelled: int,
    fixed: bool,
    as_json: bool,
) -> None:
    """Replay days of papers for one channel per labelled topic: each day the digest selects
    (with the model learned from the earlier days' feedback), a simulated team reacts to the
    posted papers as the labels say and finds a missed one through search; F1 per day with
    and without feedback, and macro-F1 after the learning days.

    Each day is scored before its reactions; the model's constants are chosen on the other
    topics only (unless --fixed). Exit status 1 when no labelled paper is in the archive."""
    pairs = {}
    for t in topics:
        key, sep, sub = t.partition("=")
        if not sep or not key.strip() or not sub.strip():
            fail(f"--topic {t!r}: expected KEY=SUBSCRIPTION, e.g. moe=moe", EXIT_CONFIG)
        pairs[key.strip()] = sub.strip()
    if days < 1 or reactions < 0 or finds < 0 or users < 1 or unsure < 0:
        fail(
            "--days and --users must be at least 1, --reactions, --finds and --unsure >= 0",
            EXIT_CONFIG,
        )
    try:
        label_list = load_labels(labels)
    except PaperboyError as e:
        fail(str(e), EXIT_CONFIG)
    if not label_list:
        fail(f"{labels}: no labels (one JSON object per line with title and topics)", EXIT_CONFIG)
    team = Team(days=days, reactions=reactions, finds=finds, users=users, unsure=unsure)
    started = time.perf_counter()
    with ctx.app() as app:
        papers = app.archive.all()
        lexicon = app.lexicon(papers)
        chosen: dict[str, tuple[Influence, float]] = {}
        if fixed:
            sim = simulate(label_list, papers, lexicon, pairs, team=team, min_labelled=min_labelled)
        else:
            sim, chosen = cross_validate(
                label_list, papers, lexicon, pairs, team=team, min_labelled=min_labelled
            )
    seconds = time.perf_counter() - started
    if sim.missing == len(label_list):
        fail(
            f"none of the {len(label_list)} labelled papers is in the archive: ingest them "
            "first, e.g. `paperboy ingest ../shared/seeds/*.txt` for the development labels",
            EXIT_FAILURE,
        )
    if as_json:
        click.echo(json.dumps(report_json(sim, chosen, seconds), ensure_ascii=False))
    else:
        print_report(sim, chosen, seconds)


def _influence(inf: Influence) -> dict[str, object]:
    return {
        "slope": inf.slope,
        "shift": inf.shift,
        "like": inf.like,
        "band": inf.band,
        "rank": inf.rank,
    }


def _f1(s: TopicScore) -> float | None:
    return round(s.f1, 4) if s.labelled else None


def report_json(
    sim: Simulation, chosen: dict[str, tuple[Influence, float]], seconds: float
) -> dict[str, object]:
    topics = []
    for run, (after_with, after_without) in zip(sim.runs, sim.after(), strict=True):
        topics.append(
            {
                "topic": run.key,
                "subscription": run.subscription,
                "influence": _influence(run.influence),
                "train_macro_f1": round(chosen[run.key][1], 4) if run.key in chosen else None,
                "after": {
                    "labelled": after_with.labelled,
                    "f1": round(after_with.f1, 4),
                    "f1_without": round(after_without.f1, 4),
                    "precision": round(after_with.precision, 4),
                    "recall": round(after_with.recall, 4),
                    "precision_without": round(after_without.precision, 4),
                    "recall_without": round(after_without.recall, 4),
                },
                "days": [
                    {
                        "rotation": d.rotation,
                        "day": d.day,
                        "papers": d.papers,
                        "labelled": d.without.labelled,
                        "learned_from": d.learned_from,
                        "f1": _f1(d.with_feedback),
                        "f1_without": _f1(d.without),
                        "reactions": d.reactions,
                    }
                    for d in run.days
                ],
            }
        )
    return {
        "team": {
            "days": sim.team.days,
            "reactions": sim.team.reactions,
            "finds": sim.team.finds,
            "users": sim.team.users,
            "unsure": sim.team.unsure,
        },
        "chosen_by": sim.chosen_by,
        "missing": sim.missing,
        "min_labelled": sim.min_labelled,
        "macro_f1": round(sim.macro_with, 4),
        "macro_f1_without": round(sim.macro_without, 4),
        "gain": round(sim.gain, 4),
        "seconds": round(seconds, 2),
        "topics": topics,
    }


def _cell(s: TopicScore) -> str:
    return f"{s.f1:.2f}" if s.labelled else "  - "


def print_report(
    sim: Simulation, chosen: dict[str, tuple[Influence, float]], seconds: float
) -> None:
    team = sim.team
    if sim.missing:
        click.echo(f"warning: {sim.missing} labelled papers are not in the archive")
    click.echo(
        f"{2 * team.days} days per rotation (2 rotations); reactions on days 1-{team.days}: "
        f"up to {team.reactions} per day on posted papers + {team.unsure} asked about "
        f"(unsure) + {team.finds} found by search, "
        f"{team.users} users; constants: {sim.chosen_by}"
    )
    click.echo("F1 per day (with feedback / without; '-' no relevant paper that day):")
    for run in sim.runs:
        for rotation in (0, 1):
            days = [d for d in run.days if d.rotation == rotation]
            cells = " ".join(f"{_cell(d.with_feedback)}/{_cell(d.without)}" for d in days)
            votes = sum(d.reactions for d in days)
            click.echo(f"  {run.key:<12} r{rotation}  {cells}  ({votes} votes)")
    learning = [d.reactions for r in sim.runs for d in r.days if d.day <= team.days]
    per_day = ", ".join(
        f"{r.key} {sum(d.reactions for d in r.days if d.day <= team.days) / (2 * team.days):.1f}"
        for r in sim.runs
    )
    click.echo(
        f"reactions per learning day: {sum(learning) / max(1, len(learning)):.1f} on average "
        f"({per_day})"
    )
    click.echo(f"after {team.days} days (days {team.days + 1}-{2 * team.days}, both rotations):")
    click.echo(
        f"{'topic':<14}{'labelled':>9}{'P':>7}{'R':>7}{'F1':>7}"
        f"{'P0':>7}{'R0':>7}{'F1 no fb':>10}  constants (train macro-F1)"
    )
    for run, (w, n) in zip(sim.runs, sim.after(), strict=True):
        inf = run.influence
        note = "" if w.labelled >= sim.min_labelled else "  (not in macro)"
        tuned = f" ({chosen[run.key][1]:.3f})" if run.key in chosen else ""
        click.echo(
            f"{run.key:<14}{w.labelled:>9}{w.precision:>7.3f}{w.recall:>7.3f}{w.f1:>7.3f}"
            f"{n.precision:>7.3f}{n.recall:>7.3f}{n.f1:>10.3f}  shift={inf.shift:g} "
            f"like={inf.like:g}{tuned}{note}"
        )
    click.echo(
        f"macro-F1 (topics with >= {sim.min_labelled} labelled): with feedback "
        f"{sim.macro_with:.3f}, without {sim.macro_without:.3f}, gain {sim.gain:+.3f}"
    )
    click.echo(f"({seconds:.1f} s)")
