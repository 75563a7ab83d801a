"""`--me`: the caller's own alerts, delivered by direct message (issue 19).

`/papers subscribe <topic> --me` (and unsubscribe, list, exclude, include, more, less,
schedule, pause, resume) act on the caller's own profile: a row of the channels table of
kind "person" whose id is the caller's user id, created on first use with the defaults
(schedule, time zone) and the channel typed in as its `home`. Privacy, by construction:

- the profile is found by `CommandRequest.user_id`, which the front-ends take from the
  signed request (Slack's `user_id` of the verified slash-command payload, Discord's
  `interaction.user.id`), never from the text: no command names another person's profile;
- every reply to a `--me` command is private (`--share` is refused with it);
- channel commands (`/papers list` in a channel) read only the channel's profile.

`pending_notice` is how a person whose DMs were refused learns it when the platform could
not tell them at the failure (Discord cannot post ephemerally outside an interaction): the
first private answer to any of their later commands starts with it, once (`notified_at`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot.errors import StoreError
from bot.feedback import FeedbackError
from bot.models import Profile, Vote
from bot.pipeline.personal import refusal_notice
from bot.pipeline.render.common import cut
from bot.schedule import next_fire
from bot.store import aio
from bot.store.profile_rules import BY_DELIVERY, PAUSED, ChannelEntry, format_duration, topic_key
from handlers.common import MAX_QUERY_SHOWN, error, now, paper_line, quoted, when
from handlers.profile import _preview  # the channel's preview, for one person
from handlers.reply import CommandRequest, Reply
from handlers.services import Services
from handlers.spec import Command

PersonalHandler = Callable[[Command, CommandRequest, Services], Awaitable[Reply]]
NONE_YET = "You have no personal alerts yet."
START = "Start with /papers subscribe <topic> --me, e.g. /papers subscribe mixture of experts --me"


def check(command: Command) -> Reply | None:
    """A refusal when `--me` or `--include-channel-posts` cannot apply to `command`, else
    None. Pure."""
    if command.channel_posts is not None and not command.me:
        return error(
            "--include-channel-posts is a setting of your own alerts: add --me, e.g. "
            "/papers list --me --include-channel-posts on"
        )
    if not command.me:
        return None
    if command.name not in HANDLERS:
        names = ", ".join(sorted(HANDLERS))
        return error(
            f"/papers {command.name} has no --me form.",
            f"--me works with {names}: e.g. /papers subscribe moe --me",
        )
    if command.share:
        return error(
            "Your own alerts are private: --share cannot be used with --me.",
            f"/papers {command.name} --me answers only you.",
        )
    return None


async def run(command: Command, request: CommandRequest, services: Services) -> Reply:
    """Run a `--me` command on the caller's own profile (`check` passed). Private.

    The one place where every `--me` command settles the profile before its handler runs
    (`_settle`): created by the commands in CREATES, home moved and
    `--include-channel-posts` applied by every command but a plain `list`."""
    try:
        entry = await aio.run(_settle, command, request, services)
    except ValueError as e:
        return error(f"Your personal alerts can't be changed: {e}.")
    if entry is None and command.name != "list":
        return error(NONE_YET, START)
    reply = await HANDLERS[command.name](command, request, services)
    says = not reply.error and command.name in _SAYS_POSTS
    if command.channel_posts is not None and entry is not None and not says:
        reply = replace(reply, lines=(*reply.lines, _posts_line(entry.profile)))
    return replace(reply, public=False)


# The commands that create the caller's alerts on first use (a setting, a topic or a term
# to add); the others need alerts to act on and change nothing without them.
CREATES = frozenset({"subscribe", "exclude", "schedule", "list"})
# The answers that already say whether channel posts are included (_delivery_line, list).
_SAYS_POSTS = frozenset({"subscribe", "list"})


def _settle(command: Command, request: CommandRequest, services: Services) -> ChannelEntry | None:
    """The caller's profile as the command finds it (None: they have none and this
    command does not create it). Every `--me` command but a plain `list` (which only
    reads) makes the channel typed in their home and applies `--include-channel-posts`
    when given; CREATES create the profile first (a `list` only with the option). In a
    worker thread."""
    store, moment = services.profiles, now(services)
    entry = store.person(request.platform, request.user_id)
    if command.name == "list" and command.channel_posts is None:
        return entry
    if entry is None and command.name not in CREATES:
        return None
    entry = store.ensure_person(
        request.platform, request.user_id, home=request.channel_ref, now=moment
    )
    if command.channel_posts is not None:
        store.set_channel_posts(
            request.platform, request.user_id, command.channel_posts, now=moment
        )
        entry = store.person(request.platform, request.user_id) or entry
    return entry


def _posts_line(profile: Profile) -> str:
    if profile.include_channel_posts:
        return "Papers your channel already posted that day are now sent to you too."
    return "Papers your channel already posted that day are now left out of your alerts."


def _delivery_line(profile: Profile) -> str:
    posts = (
        "papers your channel already posted that day are sent too"
        if profile.include_channel_posts
        else "papers your channel already posted that day are left out "
        "(--include-channel-posts to get them too)"
    )
    return f"They come by direct message on “{profile.schedule}” ({profile.timezone}); {posts}."


async def subscribe(command: Command, request: CommandRequest, services: Services) -> Reply:
    topic = command.arg

    def change() -> tuple[bool, Profile]:
        added = services.profiles.add_topic(
            request.platform, request.user_id, topic, now=now(services)
        )
        stored = services.profiles.person(request.platform, request.user_id)
        assert stored is not None  # run settled it
        return added, stored.profile

    try:
        added, profile = await aio.run(change)
    except ValueError as e:
        return error(f"Could not follow {quoted(topic)}: {e}.")
    preview = await aio.run(_preview, topic, profile, services)
    verb = "now follow" if added else "already follow"
    return Reply(
        f"Your personal alerts {verb} {quoted(topic)} (only you see this).",
        (_delivery_line(profile), *preview.lines),
        preview.papers,
    )


async def exclude(command: Command, request: CommandRequest, services: Services) -> Reply:
    term = command.arg

    def change() -> bool:
        return services.profiles.add_exclude(
            request.platform, request.user_id, term, now=now(services)
        )

    try:
        added = await aio.run(change)
    except ValueError as e:
        return error(f"Could not exclude {quoted(term)}: {e}.")
    if not added:
        return Reply(f"Papers about {quoted(term)} are already left out of your alerts.")
    return Reply(
        f"Papers about {quoted(term)} will no longer be sent to you.",
        (f"/papers include {cut(term, MAX_QUERY_SHOWN)} --me sends them again.",),
    )


async def unsubscribe(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _remove(command, request, services, field="topics")


async def include(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _remove(command, request, services, field="exclude")


async def _remove(
    command: Command, request: CommandRequest, services: Services, *, field: str
) -> Reply:
    arg = command.arg

    def change() -> tuple[bool, Profile | None]:
        entry = services.profiles.person(request.platform, request.user_id)
        if entry is None:
            return False, None
        items: tuple[str, ...] = getattr(entry.profile, field)
        if topic_key(arg) not in {topic_key(i) for i in items}:
            return False, entry.profile
        remove = (
            services.profiles.remove_topic
            if field == "topics"
            else services.profiles.remove_exclude
        )
        return remove(request.platform, request.user_id, arg, now=now(services)), entry.profile

    removed, profile = await aio.run(change)
    if profile is None:
        return error(NONE_YET, START)
    if removed:
        if field == "topics":
            left = len(profile.topics) - 1
            tail = "" if left else " You follow nothing now, so no more direct messages."
            return Reply(f"Your personal alerts no longer follow {quoted(arg)}.{tail}")
        return Reply(f"Papers about {quoted(arg)} are sent to you again.")
    items: tuple[str, ...] = getattr(profile, field)
    verb = "follow" if field == "topics" else "exclude"
    if not items:
        return error(f"Your personal alerts {verb} nothing, so there is nothing to remove.")
    return error(
        f"Your personal alerts don't {verb} {quoted(arg)}.", f"They {verb}: " + ", ".join(items)
    )


async def list_command(command: Command, request: CommandRequest, services: Services) -> Reply:
    entry = await aio.run(services.profiles.person, request.platform, request.user_id)
    if entry is None or not (entry.profile.topics or entry.profile.authors):
        posts = (_channel_posts(entry.profile),) if entry is not None else ()
        return Reply(NONE_YET, (START, *posts))
    profile = entry.profile
    lines = [
        "Topics: " + (", ".join(profile.topics) or "(none)"),
        "Excluded: " + (", ".join(profile.exclude) or "(nothing)"),
        f"Schedule: {profile.schedule} ({profile.timezone}), up to "
        f"{profile.max_posts or 'any number of'} papers, looking back "
        f"{format_duration(profile.lookback)} on the first one",
        _channel_posts(profile),
    ]
    if entry.state == PAUSED:
        why = f" ({entry.reason})" if entry.reason else ""
        lines.append(f"Paused{why}: /papers resume --me starts them again")
    else:
        upcoming = next_fire(profile, now(services))
        if upcoming is not None:
            lines.append(f"Next direct message: {when(upcoming, profile)}")
    return Reply(
        f"Your personal alerts ({len(profile.topics)} topics, only you see this)", tuple(lines)
    )


def _channel_posts(profile: Profile) -> str:
    return "Channel posts: " + (
        "included (papers your channel already posted that day are sent too)"
        if profile.include_channel_posts
        else "left out (--include-channel-posts on to get them too)"
    )


async def schedule(command: Command, request: CommandRequest, services: Services) -> Reply:
    parts = command.arg.split()

    def change() -> Profile:
        entry = services.profiles.person(request.platform, request.user_id)
        assert entry is not None  # run settled it
        zone = parts[5] if len(parts) == 6 else entry.profile.timezone
        services.profiles.set_schedule(
            request.platform, request.user_id, " ".join(parts[:5]), zone, now=now(services)
        )
        stored = services.profiles.person(request.platform, request.user_id)
        return (stored or entry).profile

    try:
        profile = await aio.run(change)
    except ValueError as e:
        return error(
            f"That schedule can't be used: {e}.",
            "For example: /papers schedule 0 8 * * mon-fri Europe/Berlin --me",
        )
    upcoming = next_fire(profile, now(services))
    lines = (f"Next direct message: {when(upcoming, profile)}",) if upcoming else ()
    return Reply(f"Your personal alerts come on “{profile.schedule}” ({profile.timezone}).", lines)


async def pause(command: Command, request: CommandRequest, services: Services) -> Reply:
    def change() -> bool | None:
        if services.profiles.person(request.platform, request.user_id) is None:
            return None
        return services.profiles.pause(request.platform, request.user_id, now=now(services))

    changed = await aio.run(change)
    if changed is None:
        return error(NONE_YET, START)
    head = "Your personal alerts are paused." if changed else "Your alerts are already paused."
    return Reply(head, ("/papers resume --me starts them again; nothing is lost.",))


async def resume(command: Command, request: CommandRequest, services: Services) -> Reply:
    def change() -> tuple[bool, ChannelEntry] | None:
        if services.profiles.person(request.platform, request.user_id) is None:
            return None
        changed = services.profiles.resume(request.platform, request.user_id, now=now(services))
        entry = services.profiles.person(request.platform, request.user_id)
        assert entry is not None
        return changed, entry

    done = await aio.run(change)
    if done is None:
        return error(NONE_YET, START)
    changed, entry = done
    head = "Your personal alerts are back on." if changed else "Your alerts are not paused."
    upcoming = next_fire(entry.profile, now(services))
    lines = [f"Next direct message: {when(upcoming, entry.profile)}"] if upcoming else []
    return Reply(head, tuple(lines))


async def _vote(command: Command, request: CommandRequest, services: Services, vote: Vote) -> Reply:
    entry = await aio.run(services.profiles.person, request.platform, request.user_id)
    if entry is None:
        return error(NONE_YET, START)
    try:
        given = await services.teach.give(entry.ref, request.user_id, command.arg, vote, "command")
    except FeedbackError as e:
        return error(str(e))
    said = "More papers like" if vote > 0 else "Fewer papers like"
    return Reply(
        f"Noted: {said} {quoted(given.paper.title)} in your personal alerts.",
        (),
        (paper_line(given.paper, services, {}),),
    )


async def more(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _vote(command, request, services, 1)


async def less(command: Command, request: CommandRequest, services: Services) -> Reply:
    return await _vote(command, request, services, -1)


HANDLERS: dict[str, PersonalHandler] = {
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "list": list_command,
    "exclude": exclude,
    "include": include,
    "more": more,
    "less": less,
    "schedule": schedule,
    "pause": pause,
    "resume": resume,
}


async def pending_notice(request: CommandRequest, services: Services) -> str | None:
    """The notice owed to the caller when the bot paused their alerts because their DMs
    were refused and nobody told them yet; recorded as told (once, even with two answers
    at once). None otherwise, and on a store failure (the command's answer matters more)."""

    def read() -> str | None:
        entry = services.profiles.person(request.platform, request.user_id)
        if entry is None or entry.state != PAUSED or entry.state_by != BY_DELIVERY:
            return None
        if entry.notified_at is not None:
            return None
        if not services.profiles.mark_notified(
            request.platform, request.user_id, now=now(services)
        ):
            return None
        return refusal_notice(entry.reason or "the platform refused them")

    try:
        return await aio.run(read)
    except StoreError:
        return None


def with_notice(reply: Reply, notice: str | None) -> Reply:
    """`reply` starting with `notice` (a private reply only: a public one is never
    prefixed, and the notice waits for the next private answer)."""
    if notice is None or reply.public:
        return reply
    return replace(reply, title=notice, lines=(reply.title, *reply.lines))
