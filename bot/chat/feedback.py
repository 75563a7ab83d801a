"""What a feedback button or a 👍/👎 reaction means, whatever the platform (issue 16).

A digest's buttons ("More like this" / "Not for us") name their paper by a reference
(bot.pipeline.render.common.feedback_ref: the key, or `#digest` for a long key). A click
counts only for a paper the clicked message carries, as the posted ledger knows it
(Teach.papers_of_message): a stale, forged or damaged reference stores nothing and is
answered with a clear, private error. A reaction counts on a message that carries exactly
one paper (Teach.on_message), and removing it withdraws that vote (Teach.on_unreact);
reactions have no answer.
"""

from __future__ import annotations

import logging
import unicodedata

from bot.feedback import VIA_REACTION as VIA_REACTION  # how a reaction's vote is stored
from bot.feedback import FeedbackError, Given, Teach
from bot.models import Vote
from bot.pipeline.render.common import feedback_key
from handlers.reply import Reply

log = logging.getLogger(__name__)

MAX_REF = 2000  # the longest reference a button carries (Slack's button value limit)
VIA_BUTTON = "button"
SLACK_REACTIONS: dict[str, Vote] = {"+1": 1, "thumbsup": 1, "-1": -1, "thumbsdown": -1}
DISCORD_REACTIONS: dict[str, Vote] = {"👍": 1, "👎": -1}
# Skin tones (U+1F3FB-U+1F3FF) and the emoji presentation selector (U+FE0F) do not change
# what a thumb means.
_MODIFIERS = frozenset("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff\ufe0f")

DAMAGED = (
    "This button does not name a paper Paperboy can read, so nothing was recorded. "
    "Use /papers more <arXiv id> or /papers less <arXiv id> instead."
)
NOT_ON_MESSAGE = (
    "This button does not match a paper of this message in Paperboy's records for this "
    "channel, so nothing was recorded. Use /papers more <arXiv id> or /papers less "
    "<arXiv id> instead."
)
NOT_IN_A_CHANNEL = "Feedback buttons work on digests in server channels; nothing was recorded."
FAILED = "Something went wrong on our side; your vote was not recorded. Try again."


def slack_vote(reaction: str) -> Vote | None:
    """The vote a Slack reaction name means ("+1", "thumbsup::skin-tone-2", …), or None."""
    return SLACK_REACTIONS.get(reaction.split("::", 1)[0])


def discord_vote(emoji: str | None) -> Vote | None:
    """The vote a Discord reaction's unicode emoji means (👍, 👍🏽, 👎, …), or None."""
    if not emoji:
        return None
    bare = "".join(ch for ch in unicodedata.normalize("NFC", emoji) if ch not in _MODIFIERS)
    return DISCORD_REACTIONS.get(bare)


def thanks(given: Given) -> Reply:
    """The private answer to a vote taken."""
    title = given.paper.title
    shown = title if len(title) <= 120 else title[:119].rstrip() + "…"
    what = "more papers like" if given.vote == 1 else "fewer papers like"
    lines = ["It shapes this channel's next digests; /papers feedback lists its votes."]
    if given.replaced:
        lines.insert(0, "This replaces your earlier vote on it.")
    return Reply(f"Noted: {what} “{shown}” in this channel.", lines=tuple(lines))


async def vote_from_button(
    teach: Teach, channel_ref: str, user: str, message_id: str, ref: object, vote: Vote
) -> Reply:
    """Take `user`'s vote from a button of message `message_id` whose reference is `ref`;
    the private answer to show them. Nothing is stored unless the reference names a paper
    the message carries. Raises nothing but what the store raises (StoreError)."""
    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF:
        return Reply(DAMAGED, error=True)
    keys = await teach.papers_of_message(channel_ref, message_id)
    key = feedback_key(ref, keys)
    if key is None:
        log.info(
            "feedback button in %s named no paper of message %s (%d papers)",
            channel_ref,
            message_id,
            len(keys),
        )
        return Reply(NOT_ON_MESSAGE, error=True)
    try:
        given = await teach.give(channel_ref, user, key, vote, VIA_BUTTON)
    except FeedbackError as e:
        return Reply(str(e), error=True)
    return thanks(given)
