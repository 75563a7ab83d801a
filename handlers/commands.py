"""The /papers commands, platform-neutral: (request, services) -> Reply.

`dispatch` reads the command (typed options through its CommandSpec, or the text through
handlers.parse), checks its argument and the caller's permission as the spec says, and
runs its handler (handlers.search, .profile, .overview, .why). Each handler reads the
stores in a worker thread, decides with the pure pipeline functions, and answers with a
Reply that says what happened — or, for bad input, what was wrong and what to type
instead. No handler raises for anything a user can type.
"""

from __future__ import annotations

import logging
import math

from bot.errors import StoreError
from handlers import personal
from handlers.common import error
from handlers.parse import parse_command
from handlers.registry import BY_NAME, HELP_LINES, SPECS
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import Command, Handler, UsageError
from handlers.suggest import topic_suggestions

log = logging.getLogger(__name__)

HANDLERS: dict[str, Handler] = {spec.name: spec.handler for spec in SPECS}


def read_command(request: CommandRequest) -> Command:
    """The command a request asks for: its typed options read by the subcommand's spec,
    or else its text parsed. Raises UsageError."""
    if request.typed is not None:
        spec = BY_NAME.get(request.typed.name)
        if spec is None:
            raise UsageError(f"/papers has no {request.typed.name!r} command; try /papers help")
        return spec.command(request.typed.values)
    return parse_command(request.text)


async def dispatch(request: CommandRequest, services: Services) -> Reply:
    """Answer one /papers command. Never raises: bad input, refusals, a user over the rate
    limit and store failures become replies that say what happened and what to do."""
    if (slow_down := _rate_limited(request, services)) is not None:
        return slow_down
    try:
        command = read_command(request)
    except UsageError as e:
        reply = error(str(e))
    else:
        reply = await _answer(command, request, services)
    if not reply.public:  # a person whose DMs were refused learns it here, once
        reply = personal.with_notice(reply, await personal.pending_notice(request, services))
    return reply


async def _answer(command: Command, request: CommandRequest, services: Services) -> Reply:
    spec = BY_NAME[command.name]
    if (refused := personal.check(command)) is not None:
        return refused
    if spec.check is not None:
        checked = spec.check(command)
        if isinstance(checked, Reply):
            return checked
        command = checked
    # --me: the caller's own profile, which they may always manage (handlers.personal)
    if not command.me and spec.permission == "manage" and (no := _refusal(request)) is not None:
        return no
    try:
        if command.me:
            return await personal.run(command, request, services)
        reply = await spec.handler(command, request, services)
    except StoreError as e:
        log.warning("/papers %s in %s: %s", command.name, request.channel_ref, e)
        return error(
            "The paper archive is not reachable right now, so nothing was changed. "
            "Try again in a minute."
        )
    if command.share and not reply.error:
        return Reply(reply.title, reply.lines, reply.papers, reply.footer, public=True)
    return reply


def _refusal(request: CommandRequest) -> Reply | None:
    if request.can_manage:
        return None
    rule = request.manage_rule or "you may not change this channel's profile"
    return error(f"You can't change what this channel follows: {rule}.")


def _rate_limited(request: CommandRequest, services: Services) -> Reply | None:
    """A private "slow down" when this user is over the limit (before anything is read)."""
    limiter = services.limiter
    if limiter is None:
        return None
    wait = limiter.take(f"{request.platform}:{request.user_id}")
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    log.info(
        "/papers rate-limited %s:%s in %s for %s s",
        request.platform,
        request.user_id,
        request.channel_ref,
        seconds,
        extra={"event": "ratelimit"},
    )
    return error(
        f"Slow down: try again in {seconds} s.",
        f"/papers answers each person {limiter.burst} commands in a row, "
        f"then {limiter.per_minute:g} a minute.",
    )


__all__ = ["HANDLERS", "HELP_LINES", "dispatch", "read_command", "topic_suggestions"]
