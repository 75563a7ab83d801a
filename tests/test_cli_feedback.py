"""`paperboy feedback` and `paperboy match --channel` as a user runs them: votes from the
shell, the listing, clearing, clear errors without tracebacks, and a match that applies the
channel's feedback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

SAMPLE = Path(__file__).resolve().parents[1] / "bot" / "data" / "sample-dump.txt"
CHANNEL = "console:demo"
LIKED = "Direct Speech-to-Speech Translation for Unwritten Languages via Self-Supervised Units"
RANKED_LAST = "Dictionary-Augmented Prompting for Low-Resource Neural Machine Translation"
BORDERLINE = (
    "Back-Translation Revisited: When Does Synthetic Parallel Data Still Help in the Era of "
    "Large Language Models?"
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "paperboy.yaml"
    path.write_text(
        f"database: {tmp_path / 'p.db'}\n"
        "channels:\n"
        '  - {platform: console, id: demo, topics: ["machine translation"]}\n'
    )
    ingest = CliRunner().invoke(cli, ["--config", str(path), "ingest", str(SAMPLE)])
    assert ingest.exit_code == 0, ingest.output
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args])


def test_vote_list_and_clear(config: Path) -> None:
    up = run(config, "feedback", "--channel", CHANNEL, "--paper", LIKED, "--up")
    assert up.exit_code == 0, up.output
    assert "more like this — Direct Speech-to-Speech Translation" in up.output
    assert f"{CHANNEL} has 1 vote" in up.output
    down = run(
        config, "feedback", "--channel", CHANNEL, "--paper", "back-translation revisited", "--down"
    )
    assert down.exit_code == 0 and "not for us — Back-Translation Revisited" in down.output
    again = run(config, "feedback", "--channel", CHANNEL, "--paper", LIKED, "--down")
    assert "replacing the earlier vote" in again.output and "has 2 votes" in again.output

    listing = run(config, "feedback", "--channel", CHANNEL, "--list")
    assert listing.exit_code == 0 and "2 votes in console:demo" in listing.output
    assert "-1  cli  (cli)  Direct Speech-to-Speech" in listing.output
    rows = [
        json.loads(line)
        for line in run(
            config, "feedback", "--channel", CHANNEL, "--list", "--json"
        ).output.splitlines()
    ]
    assert {(r["vote"], r["user"], r["via"]) for r in rows} == {(-1, "cli", "cli")}
    assert {r["title"][:14] for r in rows} == {"Direct Speech-", "Back-Translati"}

    one = run(config, "feedback", "--channel", CHANNEL, "--clear", "--paper", LIKED)
    assert one.exit_code == 0 and "forgot 1 vote on" in one.output
    rest = run(config, "feedback", "--channel", CHANNEL, "--clear")
    assert "forgot 1 vote in console:demo" in rest.output
    assert (
        "0 votes in console:demo" in run(config, "feedback", "--channel", CHANNEL, "--list").output
    )


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--channel", CHANNEL, "--paper", "2999.99999", "--up"], 1, "not in the archive"),
        (
            ["--channel", CHANNEL, "--paper", "Nothing Like This Title", "--up"],
            1,
            "No archived paper",
        ),
        (["--channel", "console:nope", "--list"], 1, "no channel console:nope"),
        (["--channel", "nocolon", "--list"], 1, "PLATFORM:ID"),
        (["--channel", CHANNEL, "--up"], 2, "need --paper"),
        (["--channel", CHANNEL], 2, "give one of"),
        (["--channel", CHANNEL, "--list", "--clear"], 2, "give one of"),
    ],
)
def test_mistakes_are_explained(config: Path, args: list[str], code: int, says: str) -> None:
    result = run(config, "feedback", *args)
    assert result.exit_code == code, result.output
    assert says in result.output and "Traceback" not in result.output


def test_match_with_a_channel_applies_its_feedback(config: Path) -> None:
    plain = run(config, "match", "machine translation", "--channel", CHANNEL)
    assert plain.exit_code == 0, plain.output
    assert "has 0 votes: too few to learn from; topics only" in plain.output
    assert "feedback:" not in plain.output
    before = run(config, "match", "machine translation", "--json")
    before_keys = [json.loads(line)["key"] for line in before.output.splitlines()]
    assert before_keys[-1].startswith("dictionary augmented")  # the lowest score of the three
    # "more" on the last match and on a borderline paper (some evidence for the topic)
    for paper in (RANKED_LAST, BORDERLINE):
        assert (
            run(config, "feedback", "--channel", CHANNEL, "--paper", paper, "--up").exit_code == 0
        )
    taught = run(config, "match", "machine translation", "--channel", CHANNEL)
    assert taught.exit_code == 0, taught.output
    assert "(with the feedback of console:demo: 2 votes)" in taught.output
    assert "feedback: like 'Dictionary-Augmented" in taught.output
    as_json = run(config, "match", "machine translation", "--channel", CHANNEL, "--json")
    keys = [json.loads(line)["key"] for line in as_json.output.splitlines()]
    assert keys[0] == before_keys[-1]  # the liked match now ranks first
    assert set(before_keys) <= set(keys)  # "more" drops nothing the topic selects
    untaught = run(config, "match", "machine translation", "--json")
    assert untaught.output == before.output  # without --channel: the topics only
