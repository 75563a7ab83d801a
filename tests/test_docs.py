"""README.md and docs/*.md say only what exists: every `paperboy …` command and option they
write is in the click CLI (`bot.cli.cli`, walked), every `/papers …` reads as a subcommand of
handlers/registry.py (through the real parser), every configuration key they write in
backticks or in a ```yaml block is a key of the settings model, and every relative link and
anchor leads somewhere. The README stays under 200 lines and shows its pictures.

The checkers are tested on made-up commands, keys and links (the last tests), so a checker
that accepts anything fails."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from test_example_config import document_key_paths, settings_key_paths

from bot.cli import cli
from handlers.parse import parse_command
from handlers.registry import SUBCOMMANDS
from handlers.spec import UsageError

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 200

# `/papers WORDS` that the docs show as searches (a first word that is no subcommand is a
# search): a new `/papers pause` fails here until the registry has `pause`.
SEARCH_EXAMPLES = {"moe", "mixtrue", "mixture", "diffusion"}

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
SPAN = re.compile(r"(?<!`)`([^`\n]+(?:\n[^`\n]+)?)`(?!`)")
LINK = re.compile(r"\[[^\]]*\]\(([^()\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


# --- reading a page -----------------------------------------------------------------------


def blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks: (language, body)."""
    return [(m[1], m[2]) for m in FENCE.finditer(text)]


def spans(text: str) -> list[str]:
    """The inline code spans, outside fenced blocks."""
    return [m[1] for m in SPAN.finditer(FENCE.sub("", text))]


def code_lines(text: str) -> Iterator[str]:
    """Each piece of code written on the page: a span, or a block's line (continuation
    lines ending in a backslash joined)."""
    yield from spans(text)
    for _, body in blocks(text):
        yield from body.replace("\\\n", " ").splitlines()


# --- paperboy commands ----------------------------------------------------------------------

WORD = re.compile(r"\"[^\"]*\"|'[^']*'|\S+")
STOP = {";", "&&", "||", "|", ">", "<", ">>", "#", "\\|"}


def paperboy_calls(code: str) -> Iterator[list[str]]:
    """The words after each `paperboy` (the command, not a name such as `-U paperboy`)."""
    words = WORD.findall(code)
    for i, word in enumerate(words):
        bare = word.strip("'\"`$(")
        if bare != "paperboy" and not bare.endswith("bin/paperboy"):
            continue
        if i and words[i - 1].startswith("-"):
            continue  # an option's value, e.g. psql -U paperboy
        yield words[i + 1 :]


def _params(command: click.Command) -> dict[str, click.Parameter]:
    out: dict[str, click.Parameter] = {}
    for param in [*command.params, command.get_help_option(click.Context(command))]:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                out[name] = param
    return out


def check_paperboy(words: list[str], root: click.Command = cli) -> list[str]:
    """Problems with one `paperboy …` call: a subcommand or an option the CLI lacks."""
    command, path, problems = root, ["paperboy"], []
    i = 0
    while i < len(words):
        word = words[i].strip("[]").rstrip(".,;…").removesuffix("...")
        i += 1
        if not word or word in STOP or word.startswith("#"):
            break
        if word.startswith("-") and len(word) > 1 and not word[1:].isdigit():
            name = word.split("=", 1)[0]
            param = _params(command).get(name)
            if param is None:
                problems.append(f"{' '.join(path)}: no option {name}")
            elif not (param.is_flag or param.count) and "=" not in word:
                i += param.nargs  # its value
            continue
        if isinstance(command, click.Group):
            if word.startswith("<") or word.isupper():
                break  # a placeholder such as COMMAND
            sub = command.commands.get(word)
            if sub is None:
                problems.append(f"{' '.join(path)}: no subcommand {word!r}")
                break
            command, path = sub, [*path, word]
    return problems


def documented_paperboy_calls() -> list[tuple[str, list[str]]]:
    return [
        (page.name, call)
        for page in PAGES
        for code in code_lines(page.read_text(encoding="utf-8"))
        for call in paperboy_calls(code)
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_paperboy_command_and_option_written_exists(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems = [
        f"`{code}`: {p}"
        for code in code_lines(text)
        for call in paperboy_calls(code)
        for p in check_paperboy(call)
    ]
    assert not problems, f"{page.name}:\n" + "\n".join(problems)


def test_the_docs_do_show_paperboy_commands() -> None:
    calls = documented_paperboy_calls()
    assert len(calls) > 40
    subcommands = {call[0] for _, call in calls if call}
    assert {"ingest", "digest", "channels", "run", "status", "migrate-db"} <= subcommands


# --- /papers ------------------------------------------------------------------------------

PAPERS = re.compile(r"/papers(?:[ \t]+([^`\n|#]*)|\b)")


def papers_calls(code: str) -> Iterator[str]:
    """The text after each `/papers` of a piece of code."""
    for m in PAPERS.finditer(code):
        yield (m[1] or "").strip()


def check_papers(text: str) -> list[str]:
    """Problems with one `/papers …` as written: read by the real parser, its first word
    must be a subcommand (or a known search example), and no `--flag` may be left over."""
    words = [w.strip("[]") for w in text.replace("…", " ").split()]
    placeholder = bool(words) and words[0].startswith("<")
    shown = " ".join(
        "10" if w == "N" else ("word" if w.startswith("<") and w.endswith(">") else w)
        for w in words
        if w
    )
    try:
        command = parse_command(shown)
    except UsageError as e:
        return [f"/papers {text}: {e}"]
    problems = []
    first = shown.split()[0].casefold() if shown.split() else ""
    searched = command.name == "search" and first != "search" and not placeholder
    if searched and first not in SEARCH_EXAMPLES:
        problems.append(f"/papers {text}: {first!r} is no subcommand (a search?)")
    if leftover := [w for w in command.arg.split() if w.startswith("--")]:
        problems.append(f"/papers {text}: no flag {leftover[0]}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_papers_subcommand_written_is_in_the_registry(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    problems = [p for code in code_lines(text) for c in papers_calls(code) for p in check_papers(c)]
    assert not problems, f"{page.name}:\n" + "\n".join(problems)


def test_the_docs_name_every_papers_subcommand() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    named = {c.split()[0] for code in code_lines(text) for c in papers_calls(code) if c}
    assert not set(SUBCOMMANDS) - named, "subcommands no page names"


# --- configuration keys -------------------------------------------------------------------

KEY_PATHS = settings_key_paths()
TOP = {p for p in KEY_PATHS if "." not in p and "[" not in p}
TAILS = {re.split(r"[.\]]", p)[-1] for p in KEY_PATHS}
DOTTED = re.compile(r"^([a-z][a-z0-9_]*)((?:\.[a-z][a-z0-9_]*)+)$")
NOT_KEYS = {"com", "org", "io", "net", "co", "py", "md", "yaml", "yml", "txt", "db", "json"}


def _keyish(word: str, known: set[str], cutoff: float = 0.8) -> bool:
    """A known key, or so close to one that it reads as a typo of it (`slaack`)."""
    return word in known or bool(difflib.get_close_matches(word, known, n=1, cutoff=cutoff))


def _normal(path: str) -> str:
    """`sources[0].url` -> `sources[].url`."""
    return re.sub(r"\[\d*\]", "[]", path)


def key_problem(path: str) -> str | None:
    """None when `path` is a key path of the settings model (a whole path, or the last key
    of one, as `post_empty`)."""
    path = _normal(path)
    if path in KEY_PATHS or ("." not in path and path in TAILS):
        return None
    top = path.split(".")[0].split("[")[0]
    if top in TOP:
        return (
            f"`{path}`: no such key ({top} has {sorted(p for p in KEY_PATHS if p.startswith(top))})"
        )
    return f"`{path}`: no such key"


def config_keys_in_span(span: str) -> list[str]:
    """The configuration key paths a code span writes: `slack.bot_token`, `digest.lease`,
    `post_empty: true`, `commands: {per_minute: 10, burst: 5}`. Module paths
    (`bot.search.fts_query`), files, hosts and other code are not keys."""
    span = span.strip()
    if "$" in span or "/" in span or ";" in span:
        return []
    if ":" in span and re.match(r"^[a-z_][\w.\[\]]*:(\s|$)", span):
        try:
            data = yaml.safe_load(span)
        except yaml.YAMLError:
            return []
        if not isinstance(data, dict):
            return []
        first = next(iter(data))
        if "." in str(first) or _keyish(str(first), TOP | TAILS, 0.9):
            return sorted(document_key_paths(data))
        return []  # another tool's key: `ports: [...]`, Discord's `share: True`
    m = DOTTED.match(span)
    if m is None:
        return []
    segments = span.split(".")
    if segments[-1] in NOT_KEYS or not _keyish(segments[0], TOP):
        return []  # a module, a file, a host, a scope (`applications.commands`)
    return [span]


def yaml_block_keys(body: str) -> list[str]:
    """The key paths of a ```yaml block (a configuration, or part of one from the top)."""
    try:
        data = yaml.safe_load(body)
    except yaml.YAMLError as e:
        return [f"<not YAML: {e}>"]
    return sorted(document_key_paths(data)) if isinstance(data, dict) else []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_configuration_key_written_is_in_the_settings_model(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    keys = [k for span in spans(text) for k in config_keys_in_span(span)]
    keys += [k for lang, body in blocks(text) if lang == "yaml" for k in yaml_block_keys(body)]
    problems = [p for k in keys if (p := key_problem(k)) is not None]
    assert not problems, f"{page.name}:\n" + "\n".join(problems)


def test_the_docs_do_write_configuration_keys() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    keys = {k for span in spans(text) for k in config_keys_in_span(span)}
    assert {"slack.bot_token", "discord.manager_role", "digest.lease"} <= keys


# --- links, the README ----------------------------------------------------------------------


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def link_problems(page: Path) -> list[str]:
    problems = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            problems.append(f"{target}: no file {file.name}")
            continue
        if anchor and file.suffix == ".md":
            anchors = {slug(h) for h in HEADING.findall(FENCE.sub("", file.read_text("utf-8")))}
            if anchor not in anchors:
                problems.append(f"{target}: no heading #{anchor} in {file.name}")
    return problems


@pytest.mark.parametrize(
    "page", [*PAGES, ROOT / "RELIABILITY.md", ROOT / "BENCHMARKS.md"], ids=lambda p: p.name
)
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    assert not link_problems(page)


def test_the_readme_is_short_says_what_paperboy_is_first_and_shows_both_pictures() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < MAX_README_LINES
    before_quick_start = text.split("## Quick start")[0]
    assert "Paperboy brings the day's research papers into Slack and Discord" in before_quick_start
    for picture in ("docs/digest-slack.png", "docs/digest-discord.png"):
        assert f"]({picture})" in text and (ROOT / picture).stat().st_size > 10_000
    assert "docs/picture/make_picture.py" in text
    quick = re.search(r"## Quick start\s*```sh\n(.*?)```", text, re.S)
    assert quick and quick[1].split("\n")[:-1] == ["make run", "make test"]


def test_the_readme_links_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    for page in [*DOCS, ROOT / "RELIABILITY.md", ROOT / "BENCHMARKS.md"]:
        assert f"({page.relative_to(ROOT)}" in text, f"README does not link {page.name}"


# --- the checkers catch what they should --------------------------------------------------


def test_the_command_checker_refuses_made_up_commands_and_options() -> None:
    assert check_paperboy(["digest", "--dry-run", "--channel", "C1"]) == []
    assert check_paperboy(["eval", "relevance", "L.jsonl", "--topic", "k=v"]) == []
    assert check_paperboy(["--config", "f.yaml", "channels"]) == []
    assert check_paperboy(["frobnicate"]) == ["paperboy: no subcommand 'frobnicate'"]
    assert check_paperboy(["digest", "--frobnicate"]) == ["paperboy digest: no option --frobnicate"]
    assert check_paperboy(["eval", "relevanse"]) == ["paperboy eval: no subcommand 'relevanse'"]
    assert list(paperboy_calls("psql -U paperboy paperboy < x.sql")) == [["<", "x.sql"]]
    assert list(paperboy_calls(".venv/bin/paperboy status --json")) == [["status", "--json"]]


def test_the_papers_checker_refuses_made_up_subcommands_and_flags() -> None:
    assert check_papers("subscribe <topic>") == []
    assert check_papers("moe --top N --share") == []
    assert check_papers("<words>") == []
    assert check_papers("frobnicate the channel") != []
    assert check_papers("search moe --frobnicate") != []
    assert check_papers("moe --top 500") != []


def test_the_key_checker_refuses_made_up_keys() -> None:
    assert [key_problem(k) for k in ("slack.bot_token", "post_empty", "sources[0].days")] == [
        None,
        None,
        None,
    ]
    assert key_problem("slack.bot_tokn") is not None
    assert key_problem("frobnicate") is not None
    assert config_keys_in_span("commands: {per_minut: 10}") == ["commands", "commands.per_minut"]
    assert key_problem("commands.per_minut") is not None
    assert config_keys_in_span("slaack.bot_token") == ["slaack.bot_token"]
    assert key_problem("slaack.bot_token") is not None
    assert config_keys_in_span("bot.search.fts_query") == []  # a module, not a key
    assert yaml_block_keys("channels:\n  - platform: slack\n    topicz: [moe]\n") == [
        "channels",
        "channels[].platform",
        "channels[].topicz",
    ]


def test_the_link_checker_refuses_a_missing_page_or_anchor(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## The service: paperboy run\n")
    page.write_text(
        "[a](other.md#the-service-paperboy-run) [b](other.md#nowhere) [c](missing.md) [d](#top)"
        "\n\n# Top\n"
    )
    problems = link_problems(page)
    assert len(problems) == 2 and "#nowhere" in problems[0] and "missing.md" in problems[1]
