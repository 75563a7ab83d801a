"""Personal alerts (issue 19), pure: which papers a person's digest leaves out because their
home channel already posted them that day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.models import Profile


def homes_to_read(profiles: Iterable[Profile]) -> set[str]:
    """The home channels whose posted ledger a digest run must read: those of the persons
    who leave their channel's posts out (`include_channel_posts` off). One read for the
    whole run, whatever the number of persons."""
    return {p.home for p in profiles if p.person and p.home and not p.include_channel_posts}


def posted_at_home_today(
    profile: Profile, home_posted: Mapping[str, datetime], now: datetime
) -> set[str]:
    """The keys of the papers `profile`'s home channel posted on the person's local day of
    `now` (in the person's `timezone`): not sent again by DM. Nothing for a channel, for a
    person without a home, or one who asked for their channel's posts too
    (`include_channel_posts`). `home_posted`: paper key -> when the home posted it."""
    if not profile.person or profile.home is None or profile.include_channel_posts:
        return set()
    zone = ZoneInfo(profile.timezone)
    today = now.astimezone(zone).date()
    return {key for key, when in home_posted.items() if when.astimezone(zone).date() == today}


def refusal_notice(reason: str) -> str:
    """What a person whose DMs were refused is told, once, privately in their home channel
    (Slack: ephemeral at the failure; Discord: with their next /papers answer)."""
    return (
        f"Paperboy could not send your personal alerts by direct message: {reason}. "
        "They are paused; once that is fixed, /papers resume --me starts them again."
    )
