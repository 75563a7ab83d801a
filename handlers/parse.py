"""Reading what a user typed after `/papers`. Pure: text in, a command or a usage error out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.pipeline.text import visible_text

SUBCOMMANDS = (
    "search",
    "subscribe",
    "unsubscribe",
    "list",
    "exclude",
    "include",
    "digest",
    "schedule",
    "why",
    "help",
)
DEFAULT_LIMIT = 5
MORE_LIMIT = 10
MAX_LIMIT = 20
# Slack clients turn `--` into an em or en dash; accept what they send.
_FLAG = re.compile(r"^(?:--|—|–)(share|more|top)(?:=(\S*))?$", re.IGNORECASE)
# Whitespace between words, except the C0/C1 controls str.split() also splits on (\x1c-\x1f,
# \x85): those are hidden characters, deleted inside a word, never a word break.
_BREAK = re.compile(r"[^\S\x1c-\x1f\x85]+")


class UsageError(ValueError):
    """The text cannot be read as a command; the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: its name, its argument (whitespace-collapsed, possibly empty) and
    the flags: `--share` (post the answer to the channel), `--more` / `--top N` (results)."""

    name: str
    arg: str = ""
    share: bool = False
    limit: int = DEFAULT_LIMIT


def parse_command(text: str) -> Command:
    """The command in `text`: the first word names a subcommand (any case); anything else
    is a search for the whole text. `--share`, `--more` and `--top N` may appear anywhere.

    A flag counts only as typed in plain sight: a word that reads as a flag only once its
    hidden characters are dropped (`\u202e--share`, `--\u200bshare`, fullwidth `－－share`)
    is a UsageError, never obeyed unseen. The rest of the text is read as it shows
    (`visible_text`: bidi controls, zero-width and other format or control characters
    dropped, NFKC), so `moe\u200b` is the topic `moe`. Raises UsageError for a bad `--top`.
    """
    tokens = [t for t in _BREAK.split(text) if t]
    share, limit, rest = False, DEFAULT_LIMIT, []
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
            rest += shown.split()
            i += 1
            continue
        flag, value = m.group(1).lower(), m.group(2)
        if flag == "share":
            share = True
        elif flag == "more":
            limit = max(limit, MORE_LIMIT)
        else:
            if value is None and i + 1 < len(tokens):
                value, i = tokens[i + 1], i + 1
            limit = _limit(value)
        i += 1
    if rest and rest[0].casefold() in SUBCOMMANDS:
        return Command(rest[0].casefold(), " ".join(rest[1:]), share, limit)
    if not rest:
        return Command("help", "", share, limit)
    return Command("search", " ".join(rest), share, limit)


def _limit(value: str | None) -> int:
    # ASCII digits only: str.isdigit() also accepts "²" or "①", which int() refuses.
    if value is None or not re.fullmatch(r"[0-9]{1,3}", value) or not 1 <= int(value) <= MAX_LIMIT:
        raise UsageError(f"--top takes a number of results from 1 to {MAX_LIMIT}, e.g. --top 10")
    return int(value)
