"""What every `paperboy` command shares: the exit statuses, `fail` (one line on stderr,
then exit), the lazily built settings and app of one invocation (`Context`, passed with
`pass_ctx`), `run_async` for a command's coroutine, and `PaperboyGroup`: `--config` after
any subcommand too, and whole one-line descriptions in `--help`.

A database failure under a command ends it with one line saying what it means and what to
do, never a traceback (its SQL parameters would show paper text)."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App, build_app
from bot.errors import ConfigError, PaperboyError, StoreError
from bot.models import Paper
from bot.settings import Settings, load_settings
from bot.store.db import describe

EXIT_FAILURE = 1
EXIT_CONFIG = 2


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"paperboy: {message}", err=True)
    sys.exit(code)


CONFIG_HELP = (
    "YAML configuration (default: $PAPERBOY_CONFIG, config/paperboy.yaml, bundled demo). "
    "Accepted before or after the subcommand; given in both places, the later one wins."
)


class Context:
    """Lazily loaded settings and app of one CLI invocation."""

    def __init__(self, config: str | None) -> None:
        self._config = config
        self._settings: Settings | None = None
        self._app: App | None = None

    def use_config(self, config: str) -> None:
        """The configuration file named after a subcommand (`paperboy digest --config F`):
        it replaces the one named before it."""
        if self._settings is not None:  # a programming error: settings read during parsing
            raise RuntimeError("--config given after the settings were loaded")
        self._config = config

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self._config)
            except ConfigError as e:
                fail(str(e), EXIT_CONFIG)
        return self._settings

    @contextmanager
    def app(self, *, read_only: bool = False) -> Iterator[App]:
        """The app; `read_only` leaves an existing database unchanged (see build_app)."""
        try:
            self._app = build_app(self.settings, seed=not read_only)
        except PaperboyError as e:
            fail(str(e), EXIT_FAILURE)
        except SQLAlchemyError as e:  # e.g. a damaged file, read while opening it
            fail(describe(e), EXIT_FAILURE)
        try:
            yield self._app
        except (StoreError, SQLAlchemyError) as e:
            # the database failed under the command: what it means and what to do, in one
            # line (never a traceback: its SQL parameters would show paper text)
            fail(describe(e), EXIT_FAILURE)
        finally:
            self._app.close()


pass_ctx = click.make_pass_decorator(Context)


def run_async(coro_fn: Callable[[], Any]) -> Any:
    return asyncio.run(coro_fn())


def _config_after_subcommand(
    ctx: click.Context, _param: click.Parameter, value: str | None
) -> None:
    if value is not None:
        obj = ctx.find_object(Context)
        if obj is not None:
            obj.use_config(value)


def config_option() -> click.Option:
    """`--config FILE` as a subcommand's own option (not passed to its function)."""
    return click.Option(
        ["--config"],
        metavar="FILE",
        expose_value=False,
        is_eager=True,  # before the other options' callbacks, which may read the settings
        callback=_config_after_subcommand,
        help=CONFIG_HELP,
    )


_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)[.!?](?=\s|$)")


def one_line(help_text: str | None) -> str:
    """The first sentence of a command's help (its first paragraph, whitespace joined),
    whole: what `paperboy --help` lists (click would cut it to the terminal's width)."""
    if not help_text:
        return ""
    paragraph = " ".join(help_text.strip().split("\n\n", 1)[0].split())
    paragraph = paragraph.split("\b", 1)[0].strip()
    end = _SENTENCE_END.search(paragraph)
    return paragraph[: end.end()] if end else paragraph


def _adopt(command: click.Command) -> None:
    """Give `command` (and, for a group, each of its subcommands) `--config` and a whole
    one-line description; idempotent."""
    if not any(p.name == "config" for p in command.params):
        command.params.append(config_option())
    if not command.short_help:
        command.short_help = one_line(command.help)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _adopt(sub)


class PaperboyGroup(click.Group):
    """The `paperboy` group: every subcommand, at any depth, also takes `--config FILE`
    (after the subcommand's name, it replaces one given before it), and `--help` lists
    each command's first sentence whole rather than cut with "..."."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _adopt(cmd)
        super().add_command(cmd, name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _adopt(command)  # subcommands registered on a subgroup after it was added
        return command


def paper_link(paper: Paper) -> str | None:
    """The paper's first known link (its arXiv page, else code or project page)."""
    return next(iter(paper.links.values()), None)


def paper_date(paper: Paper) -> str | None:
    """The paper's day, ISO: published, else its daily listing, else first seen."""
    if paper.published is not None:
        return paper.published.date().isoformat()
    if paper.daily_date is not None:
        return paper.daily_date.isoformat()
    return paper.first_seen.date().isoformat() if paper.first_seen is not None else None


def paper_authors(paper: Paper, *, most: int = 3) -> str:
    """`A. One, B. Two, C. Three et al.`: the first `most` authors."""
    shown = ", ".join(paper.authors[:most])
    return shown + (" et al." if len(paper.authors) > most else "")


def paper_record(paper: Paper) -> dict[str, object]:
    """What the `--json` lines of `search` and `match` say of a paper."""
    return {
        "key": paper.key,
        "title": paper.title,
        "arxiv_id": paper.arxiv_id,
        "link": paper_link(paper),
        "date": paper_date(paper),
        "authors": list(paper.authors),
    }


def paper_lines(paper: Paper, *, rank: str = "", indent: int = 6) -> list[str]:
    """A paper as the readable commands print it: `rank  title`, then its day, authors and
    link on one indented line."""
    pad = " " * indent
    facts = [f for f in (paper_date(paper), paper_authors(paper)) if f]
    lines = [f"{rank}{paper.title}"]
    if facts:
        lines.append(pad + " · ".join(facts))
    link = paper_link(paper)
    if link:
        lines.append(pad + link)
    return lines
