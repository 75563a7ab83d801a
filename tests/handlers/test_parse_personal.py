"""`--include-channel-posts` as typed in Slack text: on/off or nothing, never a topic word."""

from __future__ import annotations

import pytest

from handlers.parse import Command, UsageError, parse_command


def mine(name: str, arg: str, posts: bool) -> Command:
    return Command(name, arg, me=True, channel_posts=posts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subscribe moe --me --include-channel-posts", mine("subscribe", "moe", True)),
        ("subscribe moe --include-channel-posts --me", mine("subscribe", "moe", True)),
        ("subscribe moe --include-channel-posts —me", mine("subscribe", "moe", True)),
        ("subscribe moe --include-channel-posts Off --me", mine("subscribe", "moe", False)),
        ("list --me --include-channel-posts=yes", mine("list", "", True)),
        ("subscribe --include-channel-posts no moe --me", mine("subscribe", "moe", False)),
    ],
)
def test_the_option_takes_on_off_or_nothing(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "subscribe moe --me --include-channel-posts maybe",
        "subscribe --me --include-channel-posts mixture of experts",
        "pause --me --include-channel-posts=maybe",
        "list --me --include-channel-posts 1",
    ],
)
def test_any_other_word_after_it_is_refused_with_what_to_type(text: str) -> None:
    with pytest.raises(UsageError) as refused:
        parse_command(text)
    message = str(refused.value)
    assert "takes on or off" in message and "--include-channel-posts on" in message


def test_a_hidden_option_after_it_is_still_refused_as_hidden() -> None:
    with pytest.raises(UsageError, match="invisible"):
        parse_command("subscribe moe --include-channel-posts \u202e--me")
