"""TeX fragments in titles, abstracts and author names read as Unicode text (`tex_to_text`).

Pure: `$\\pi$-Tuning` -> `π-Tuning`, `Andr\\'e` -> `André`; text without TeX comes back
unchanged, and a fragment pylatexenc cannot read is kept as typed. Bounded in fragment
length, brace depth and fragments per text (below)."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text, get_default_latex_context_db

# --- TeX in titles, abstracts and author names -------------------------------------------
#
# arXiv spells math and accents in TeX (`$\pi$-Tuning`, `Andr\'e`), other sources in
# Unicode. Only TeX *fragments* are read (by pylatexenc), the text around them is left as
# it is, so ordinary text keeps its dollar signs, percent signs, dashes and backslashes:
#   - inline math `$...$` by pandoc's rule: the opening `$` has a non-space on its right, the
#     closing one a non-space on its left and no digit after it ("$5 to $10" is not math);
#     also `$$...$$` and `\(...\)`;
#   - a command pylatexenc knows (`\textbf{x}`, `\ss{}`, `\alpha`) with its arguments;
#     an unknown one (`C:\Users`) stays as typed;
#   - an accent (`\'e`, `\"{o}`, `\c{c}`), an escaped special (`\%`, `\&`, `\$`);
#   - a braced group opening with a command (`{\'e}`, `{\o}`, `{\bf x}`).
# Bounded: fragments are at most a few hundred characters with braces nested at most four
# deep (deeper or unbalanced braces are not a fragment), and at most MAX_TEX_FRAGMENTS of a
# text are read.
MAX_TEX_FRAGMENTS = 400
_MAX_MATH = 300
_BRACES = r"\{[^{}]{0,200}\}"
for _ in range(3):  # four levels of nesting, each group bounded
    _BRACES = rf"\{{(?:[^{{}}]|{_BRACES}){{0,200}}\}}"
_TEX_FRAGMENT = re.compile(
    rf"\$\$(?=[^\s$])(?:[^$\\]|\\.){{1,{_MAX_MATH}}}?(?<=[^\s\\])\$\$"
    rf"|\$(?=[^\s$])(?:[^$\\]|\\.){{1,{_MAX_MATH}}}?(?<=[^\s\\])\$(?!\d)"
    rf"|\\\((?:[^\\]|\\[^)]){{1,{_MAX_MATH}}}?\\\)"
    rf"|\{{\\(?:[^{{}}]|{_BRACES}){{0,200}}\}}"
    rf"|\\(?P<name>[A-Za-z]+)\*?(?:\[[^\[\]{{}}]{{0,100}}\])?(?:{_BRACES}){{0,3}}"
    r"|\\[`'^\"~=.](?:[A-Za-z]|\{\\?[A-Za-z]?\}|\\[ij](?![A-Za-z]))"
    r"|\\[&%$#_{}]",
)
_KNOWN_MACROS = get_default_latex_context_db()
_LETTER_ACCENTS = frozenset("bcdGHkrtuUv")
_MAX_DEPTH = 8
_latex = threading.local()
logging.getLogger("pylatexenc").setLevel(logging.ERROR)  # tolerant parsing warns on every slip


def _reader() -> LatexNodes2Text:
    reader = getattr(_latex, "reader", None)
    if reader is None:
        reader = _latex.reader = LatexNodes2Text(math_mode="text")
    return reader


def _depth(fragment: str) -> int:
    depth = deepest = 0
    for ch in fragment:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
    return deepest


@lru_cache(maxsize=8192)
def _read_fragment(fragment: str) -> str:
    if _depth(fragment) > _MAX_DEPTH:
        return fragment
    try:
        text = _reader().latex_to_text(fragment)
    except Exception:  # pylatexenc's own failures on odd input: keep the fragment as typed
        return fragment
    return _SPACE_RUN.sub(" ", text)


_SPACE_RUN = re.compile(r"\s+")
_URL = re.compile(r"\\(?:url|path)\{([^{}]*)\}")


def _known(name: str, fragment: str) -> bool:
    """Whether the command `\\name` is TeX pylatexenc reads, given as `fragment`: a command
    that takes an argument (`\\url{x}`, `\\c{c}`) only with one (`a\\b` is not `a` + macron)."""
    spec = _KNOWN_MACROS.get_macro_spec(name)
    if spec is None:
        return False
    takes_argument = name in _LETTER_ACCENTS or "%" in str(getattr(spec, "simplify_repl", ""))
    return "{" in fragment or not takes_argument


def _fragment_text(match: re.Match[str]) -> str:
    name = match.group("name")
    if name is not None and not _known(name, match.group()):
        return match.group()  # not TeX we know: `C:\Users`, `\Ours`, `a\b`
    address = _URL.fullmatch(match.group())
    if address:  # the address itself (pylatexenc writes `<address>`)
        return address.group(1)
    return _read_fragment(match.group())


def tex_to_text(text: str) -> str:
    r"""`text` with its TeX fragments read as Unicode text (`$\pi$-Tuning` -> `π-Tuning`,
    `Andr\'e` -> `André`, `\textbf{x}` -> `x`); text without TeX is returned unchanged.
    Titles, abstracts and author names of every source are read through it, and the title
    identity (`bot.models.normalize_title`) reads titles the same way."""
    if "\\" not in text and "$" not in text:
        return text
    count = 0

    def one(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return _fragment_text(match) if count <= MAX_TEX_FRAGMENTS else match.group()

    return _TEX_FRAGMENT.sub(one, text)
