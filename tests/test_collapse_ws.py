r"""collapse_ws (bot.models) splits with str.split: the same result as the regex it replaced
(`re.sub(r"\s+", " ", text).strip()`) for every character and for mixed texts."""

from __future__ import annotations

import random
import re
import sys

from bot.models import collapse_ws

_REGEX = re.compile(r"\s+")


def by_regex(text: str) -> str:
    return _REGEX.sub(" ", text).strip()


def test_every_character_is_whitespace_to_both_or_to_neither() -> None:
    for code in range(sys.maxunicode + 1):
        c = chr(code)
        assert (_REGEX.fullmatch(c) is not None) == c.isspace(), hex(code)


def test_mixed_texts_collapse_as_the_regex_collapses_them() -> None:
    alphabet = list("aé -\t\n\r\x0b\x0c\x1c\x1f\x85\xa0")
    alphabet += list("\u1680\u2000\u2028\u2029\u200b\u202f\u3000\ufeff")
    rng = random.Random(5)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        assert collapse_ws(text) == by_regex(text), repr(text)
