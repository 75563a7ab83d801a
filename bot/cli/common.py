"""What every `paperboy` command shares: the exit statuses, `fail` (one line on stderr,
then exit), the lazily built settings and app of one invocation (`Context`, passed with
`pass_ctx`), and `run_async` for a command's coroutine.

A database failure under a command ends it with one line saying what it means and what to
do, never a traceback (its SQL parameters would show paper text)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App, build_app
from bot.errors import ConfigError, PaperboyError, StoreError
from bot.settings import Settings, load_settings
from bot.store.db import describe

EXIT_FAILURE = 1
EXIT_CONFIG = 2


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"paperboy: {message}", err=True)
    sys.exit(code)


class Context:
    """Lazily loaded settings and app of one CLI invocation."""

    def __init__(self, config: str | None) -> None:
        self._config = config
        self._settings: Settings | None = None
        self._app: App | None = None

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
