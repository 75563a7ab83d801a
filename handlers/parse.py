"""Reading what a user typed after `/papers`. Pure: text in, a command or a usage error out.

The subcommand names come from the registry (handlers.registry); typed options (Discord)
never come here: CommandSpec.command reads them."""

from __future__ import annotations

import re

from bot.pipeline.text import visible_text
from handlers.registry import SUBCOMMANDS
from handlers.spec import DEFAULT_LIMIT, MAX_LIMIT, MORE_LIMIT, Command, UsageError, read_limit
from handlers.spec import tokens as shown_tokens

# Slack clients turn `--` into an em or en dash; accept what they send.
_FLAG = re.compile(r"^(?:--|—|–)(share|more|top)(?:=(\S*))?$", re.IGNORECASE)

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
            limit = read_limit(value)
        i += 1
    if rest and rest[0].casefold() in SUBCOMMANDS:
        return Command(rest[0].casefold(), " ".join(rest[1:]), share, limit)
    if not rest:
        return Command("help", "", share, limit)
    return Command("search", " ".join(rest), share, limit)
