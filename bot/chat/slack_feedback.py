"""Slack feedback: the digest's "More like this" / "Not for us" buttons and 👍/👎 reactions.

A click (a `block_actions` payload, action_id `paperboy_more` / `paperboy_less`) is
acknowledged at once (Slack wants the HTTP answer within 3 s), then the vote is taken
(bot.chat.feedback.vote_from_button) and answered privately on the click's response_url.
A `reaction_added` event on a message (+1/thumbsup, -1/thumbsdown, any skin tone) counts
when the message carries exactly one paper, and a `reaction_removed` of it withdraws that
vote (not one the person gave since by a button or command); bolt acknowledges events
itself, and drops the bot's own (its `ignoring_self_events` middleware). Needs, in the
Slack app: interactivity on (request URL: the /slack/events URL in HTTP mode), the bot
events `reaction_added` and `reaction_removed`, and the `reactions:read` scope.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.chat.feedback import FAILED, VIA_REACTION, slack_vote, vote_from_button
from bot.chat.slack_logging import redact
from bot.models import Vote
from bot.pipeline.render.slack import LESS_ACTION, MORE_ACTION
from handlers.render import slack_reply
from handlers.reply import Reply
from handlers.services import Services

log = logging.getLogger("bot.chat.slack_app")  # the Slack front-end's one logger name

ACTIONS = re.compile(rf"^(?:{MORE_ACTION}|{LESS_ACTION})$")
VOTES: dict[str, Vote] = {MORE_ACTION: 1, LESS_ACTION: -1}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _field(body: Mapping[str, Any], *path: str) -> str:
    """The string at `path` in the payload, or "" (payloads are checked, not trusted)."""
    node: object = body
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return _text(node)


class SlackFeedback:
    """The button and reaction listeners. Keeps the clicks and reactions still being
    handled (`drain` waits for them) so a shutdown does not drop an answer mid-way."""

    def __init__(self, services: Services, *, secrets: Sequence[str] = ()) -> None:
        self._services = services
        self._secrets = tuple(secrets)
        self._inflight: set[asyncio.Task[Any]] = set()

    def register(self, app: AsyncApp) -> None:
        app.action(ACTIONS)(self._clicked)
        app.event("reaction_added")(self._reacted)
        app.event("reaction_removed")(self._unreacted)

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _clicked(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()  # empty 200 now: the answer follows on the response_url
        self._track()
        await self.clicked(body, respond)

    async def clicked(self, body: Mapping[str, Any], respond: AsyncRespond) -> None:
        """Take the vote of a `block_actions` payload and answer the clicker privately."""
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions else {}
        action = action if isinstance(action, Mapping) else {}
        vote = VOTES.get(_text(action.get("action_id")))
        channel = _field(body, "channel", "id") or _field(body, "container", "channel_id")
        ts = _field(body, "container", "message_ts") or _field(body, "message", "ts")
        user = _field(body, "user", "id")
        ref = f"slack:{channel}"
        if vote is None or not channel or not ts or not user:
            log.warning("Slack feedback click without its channel, message or user: ignored")
            return
        try:
            reply = await vote_from_button(
                self._services.teach, ref, user, ts, action.get("value"), vote
            )
        except Exception as e:
            detail = "".join(traceback.format_exception(e))
            log.error("feedback click in %s failed: %s", ref, redact(detail, self._secrets))
            reply = Reply(FAILED, error=True)
        await self._answer(respond, reply, ref)

    async def _answer(self, respond: AsyncRespond, reply: Reply, ref: str) -> None:
        message = slack_reply(reply)
        try:
            response = await respond(
                text=message.text,
                blocks=message.blocks,
                response_type="ephemeral",
                replace_original=False,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:  # ValueError: bad URL
            log.warning("feedback answer in %s not delivered (%s)", ref, type(e).__name__)
            return
        if response.status_code != 200:
            log.error(
                "feedback answer in %s refused by Slack: HTTP %s %s",
                ref,
                response.status_code,
                redact(str(response.body)[:200], self._secrets),
            )

    async def _reacted(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._track()
        await self.reacted(event, bot_user=_text(context.get("bot_user_id")))

    async def reacted(self, event: Mapping[str, Any], *, bot_user: str = "") -> None:
        """Count a `reaction_added` on a message as a vote (Teach.on_message decides
        whether the message carries exactly one paper)."""
        reaction = self._reaction(event, bot_user)
        if reaction is None:
            return
        ref, user, ts, vote = reaction
        try:
            given = await self._services.teach.on_message(ref, user, ts, vote, VIA_REACTION)
        except Exception as e:
            detail = "".join(traceback.format_exception(e))
            log.error("reaction in %s not counted: %s", ref, redact(detail, self._secrets))
            return
        if given is not None:
            log.info("reaction in %s counted: %+d on %s", ref, vote, given.paper.key)

    async def _unreacted(self, event: dict[str, Any], context: dict[str, Any]) -> None:
        self._track()
        await self.unreacted(event, bot_user=_text(context.get("bot_user_id")))

    async def unreacted(self, event: Mapping[str, Any], *, bot_user: str = "") -> None:
        """Withdraw the vote a `reaction_removed` took back (Teach.on_unreact: only the vote
        that reaction gave, on a message carrying exactly one paper)."""
        reaction = self._reaction(event, bot_user)
        if reaction is None:
            return
        ref, user, ts, vote = reaction
        try:
            gone = await self._services.teach.on_unreact(ref, user, ts, vote)
        except Exception as e:
            detail = "".join(traceback.format_exception(e))
            log.error(
                "reaction removed in %s not withdrawn: %s", ref, redact(detail, self._secrets)
            )
            return
        if gone is not None:
            log.info("reaction in %s withdrawn: %+d on %s", ref, vote, gone.paper_key)

    @staticmethod
    def _reaction(event: Mapping[str, Any], bot_user: str) -> tuple[str, str, str, Vote] | None:
        """(channel ref, user, message ts, vote) of a reaction event: a 👍/👎 on a message,
        by someone other than the bot; None for anything else."""
        vote = slack_vote(_text(event.get("reaction")))
        user = _text(event.get("user"))
        item = event.get("item")
        item = item if isinstance(item, Mapping) else {}
        channel, ts = _text(item.get("channel")), _text(item.get("ts"))
        if vote is None or item.get("type") != "message" or not (user and channel and ts):
            return None
        if user == bot_user:
            return None
        return f"slack:{channel}", user, ts, vote

    async def drain(self, grace: float) -> None:
        """Wait (at most `grace` s) for the clicks and reactions still being handled."""
        pending = {t for t in self._inflight if not t.done()}
        if pending:
            await asyncio.wait(pending, timeout=grace)
