"""Reading what a user typed after `/papers`. Pure: text in, a command or a usage error out.

The subcommand names come from the registry (handlers.registry); typed options (Discord)
never come here: CommandSpec.command reads them."""

from __future__ import annotations

import re
from difflib import get_close_matches

from bot.pipeline.text import visible_text
from handlers.registry import SUBCOMMANDS
from handlers.spec import DEFAULT_LIMIT, MAX_LIMIT, MORE_LIMIT, Command, UsageError, read_limit
from handlers.spec import tokens as shown_tokens

# Slack clients turn `--` into an em or en dash; accept what they send.
_FLAG = re.compile(
    r"^(?:--|—|–)(share|more|top|me|include-channel-posts)(?:=(\S*))?$", re.IGNORECASE
)
# Anything else that reads as an option (`--mee`, `--verbose`) is a mistake, never a topic.
_OPTION = re.compile(r"^(?:--|—|–)([^\W\d_][\w-]*)(?:=\S*)?$")
FLAGS = ("--me", "--share", "--more", "--top", "--include-channel-posts")
_DASHES = ("-", "—", "–")  # an option follows: `--include-channel-posts --me`
_ON = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}

__all__ = ["MAX_LIMIT", "SUBCOMMANDS", "Command", "UsageError", "parse_command"]


def parse_command(text: str) -> Command:
    """The command in `text`: the first word names a subcommand (any case); anything else
    is a search for the whole text. `--share`, `--more` and `--top N` may appear anywhere.

    A flag counts only as typed in plain sight: a word that reads as a flag only once its
    hidden characters are dropped (`\u202e--share`, `--\u200bshare`, fullwidth `－－share`)
    is a UsageError, never obeyed unseen. The rest of the text is read as it shows
    (`visible_text`: bidi controls, zero-width and other format or control characters
    dropped, NFKC), so `moe\u200b` is the topic `moe`. Raises UsageError for a bad `--top`.
    """
    tokens = shown_tokens(text)
    share, limit, rest = False, DEFAULT_LIMIT, []
    me, posts = False, None
    i = 0
    while i < len(tokens):
        m = _FLAG.match(tokens[i])
        if m is None:
            shown = visible_text(tokens[i])
            if _FLAG.match(shown.strip()):
                raise UsageError(
                    f"{shown.strip()} was typed with invisible or unusual characters in it: "
                    "type it again plainly to use it as a flag"
                )
            if (unknown := _OPTION.match(tokens[i])) is not None:
                raise UsageError(_unknown_option(unknown.group(1)))
            rest += shown.split()
            i += 1
            continue
        flag, value = m.group(1).lower(), m.group(2)
        if flag == "share":
            share = True
        elif flag == "more":
            limit = max(limit, MORE_LIMIT)
        elif flag == "me":
            if value is not None:
                raise UsageError("--me takes nothing after it: /papers subscribe moe --me")
            me = True
        elif flag == "include-channel-posts":
            # Its value is on/off or nothing: the next word is read as its value unless it
            # is another option (`--me`); any other word is refused, never taken as "on"
            # with the word left in the topic (`--include-channel-posts maybe`).
            if value is None and i + 1 < len(tokens):
                following = visible_text(tokens[i + 1]).strip()
                if not following.startswith(_DASHES):
                    value, i = following, i + 1
            posts = _read_on(value)
        else:
            if value is None and i + 1 < len(tokens):
                value, i = tokens[i + 1], i + 1
            limit = read_limit(value)
        i += 1
    if rest and rest[0].casefold() in SUBCOMMANDS:
        return Command(rest[0].casefold(), " ".join(rest[1:]), share, limit, me, posts)
    if not rest:
        return Command("help", "", share, limit, me, posts)
    return Command("search", " ".join(rest), share, limit, me, posts)


def _read_on(value: str | None) -> bool:
    """`--include-channel-posts` alone is on; with a value, on/off (yes/no, true/false)."""
    if value is None:
        return True
    on = _ON.get(value.casefold())
    if on is None:
        shown = value if len(value) <= 40 else value[:39] + "…"
        raise UsageError(
            f"--include-channel-posts takes on or off, not “{shown}”: type on or off "
            "after it (nothing after it means on), and your topic before it: "
            "/papers subscribe moe --me --include-channel-posts on"
        )
    return on


def _unknown_option(name: str) -> str:
    """What to say about `--name`, an option /papers does not have."""
    close = get_close_matches(f"--{name.lower()}", FLAGS, n=1, cutoff=0.6)
    hint = f"Did you mean {close[0]}? " if close else ""
    return (
        f"/papers has no option --{name}. {hint}Options: --me (your own alerts by direct "
        "message, e.g. /papers subscribe moe --me), --share, --more, --top N, "
        "--include-channel-posts [on|off] (with --me)"
    )
