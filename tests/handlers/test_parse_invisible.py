"""Invisible characters in a /papers command (issue 14, item 15): a flag is a flag only as
typed in plain sight, and topics are read without bidi controls, zero-width characters or
other format and control characters (NFKC)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.settings import ChannelSettings
from bot.store.profile_rules import clean_topic, topic_key, with_item, without_item
from handlers.parse import Command, UsageError, parse_command

# Bidi overrides, embeddings, isolates and marks; zero-width characters; other format (Cf)
# and control (Cc) characters, including C0/C1 controls Python's str.split() takes as spaces.
INVISIBLE = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064"
    "\x00\x01\x07\x1b\x1c\x1d\x1e\x1f\x7f\x85\x9b"
)


@pytest.mark.parametrize(
    "text",
    [
        "moe \u202e--share",
        "moe \u2066--share\u2069",
        "moe \u200b--share",
        "moe --\u200bshare",
        "moe --sh\x1fare",
        "\u202e--top 20 moe",
        "moe \u202e--more",
        "moe \uff0d\uff0dshare",  # fullwidth hyphens: NFKC makes them a flag it was not
    ],
)
def test_a_flag_with_invisible_characters_is_refused_not_obeyed(text: str) -> None:
    """The answer is never made public, nor longer, by a flag the user cannot see as typed:
    the command is refused, saying why."""
    with pytest.raises(UsageError, match=r"invisible|unusual"):
        parse_command(text)


@pytest.mark.parametrize(
    ("text", "arg"),
    [
        ("subscribe moe\u200b", "moe"),
        ("subscribe \u202emoe", "moe"),
        ("subscribe mo\u00ade", "moe"),
        ("subscribe ｍｏｅ", "moe"),  # fullwidth letters (NFKC)
        ("subscribe mixture\u200b of\u2060 experts", "mixture of experts"),
        ("subscribe mixture \u200b experts", "mixture experts"),
        ("sub\u200bscribe moe", "moe"),
    ],
)
def test_topics_are_read_without_invisible_characters(text: str, arg: str) -> None:
    assert parse_command(text) == Command("subscribe", arg)


def test_plain_flags_still_work() -> None:
    assert parse_command("moe --share --top 7") == Command("search", "moe", True, 7)
    assert parse_command("moe —share") == Command("search", "moe", True)
    assert parse_command("\u05de\u05d5\u05e2\u05d3 --share").share  # a right-to-left topic


words = st.sampled_from(["moe", "speech", "mixture", "of", "experts", "llm", "x"])
flags = st.sampled_from([["--share"], ["--more"], ["--top", "3"], ["--top=12"], ["—share"]])
invisible = st.sampled_from(INVISIBLE)


@st.composite
def commands(draw: st.DrawFn, *, into_flags: bool) -> tuple[str, str]:
    """(a command typed plainly, the same with invisible characters inserted into its words,
    or, `into_flags`, into one of its flags too)."""
    head = draw(st.sampled_from([[], ["subscribe"], ["exclude"], ["search"]]))
    parts = draw(st.lists(st.one_of(words.map(lambda w: [w]), flags), min_size=1, max_size=5))
    if into_flags:
        parts.append(draw(flags))
    tokens = [(t, False) for t in head] + [
        (t, t[0] in "-—" or t.isdigit()) for p in parts for t in p
    ]
    clean = " ".join(t for t, _ in tokens)
    dirty = []
    flag_hit = False
    for token, is_flag in tokens:
        if is_flag and not into_flags:
            dirty.append(token)
            continue
        chars = list(token)
        for _ in range(draw(st.integers(0, 2))):
            chars.insert(draw(st.integers(0, len(chars))), draw(invisible))
        flag_hit = flag_hit or (is_flag and len(chars) > len(token))
        dirty.append("".join(chars))
    if into_flags and not flag_hit:  # make sure one flag is hit
        k = max(i for i, (_, is_flag) in enumerate(tokens) if is_flag)
        dirty[k] = draw(invisible) + dirty[k]
    return clean, " ".join(dirty)


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(commands(into_flags=False))
def test_invisible_characters_in_words_change_nothing(pair: tuple[str, str]) -> None:
    """Anywhere in a word, invisible characters change nothing: the same command, the same
    topic (stored without them), the same flags."""
    clean, dirty = pair
    assert parse_command(dirty) == parse_command(clean), (clean, dirty)


@FAST
@given(commands(into_flags=True))
def test_invisible_characters_in_a_flag_make_a_usage_error(pair: tuple[str, str]) -> None:
    """In a flag (or the number of `--top`), they make the command a usage error: never a
    flag obeyed unseen, never text the user meant as a flag searched for."""
    _, dirty = pair
    with pytest.raises(UsageError):
        parse_command(dirty)


def test_stored_topics_are_compared_and_kept_without_invisible_characters() -> None:
    """Topics from the configuration and topics stored before are read the same way: a
    `moe\u200b` stored earlier is the topic `moe` (so `unsubscribe moe` finds it)."""
    assert topic_key("moe\u200b") == topic_key("MOE") == topic_key("\u202emoe")
    assert clean_topic("mo\u00ade \u200b experts") == "moe experts"
    assert with_item(["moe\u200b"], "moe") is None
    assert without_item(["moe\u200b", "speech"], "moe") == ["speech"]
    configured = ChannelSettings(platform="console", id="c", topics=["moe\u200b", "ｍｏｅ x"])
    assert configured.topics == ["moe", "moe x"]
