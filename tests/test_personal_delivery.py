"""The DM parts of the Slack and Discord deliveries against the fakes (issue 19):
conversations.open / Create DM, their refusals, and Slack's ephemeral notice."""

from __future__ import annotations

import pytest

from bot.delivery.direct import DirectMessageRefused
from bot.delivery.discord import DiscordDelivery, use_api_base
from bot.delivery.slack import SlackDelivery, slack_client
from bot.errors import DeliveryError
from fakes.discord import FakeDiscord
from fakes.slack import FakeSlack
from fakes.slack_dms import BOT, DEACTIVATED, HIDDEN

pytestmark = pytest.mark.usefixtures("discord_route")
CHANNEL = "C0PAPERS01"


@pytest.mark.parametrize(
    ("state", "error"),
    [(None, "user_not_found"), (DEACTIVATED, "user_disabled"), (BOT, "cannot_dm_bot"),
     (HIDDEN, "user_not_visible")],
)  # fmt: skip
async def test_slack_refusals_of_conversations_open(state: str | None, error: str) -> None:
    async with FakeSlack(channels=[CHANNEL]) as slack:
        if state is not None:
            slack.dms.add_user("U0X", state=state)
        delivery = SlackDelivery(slack_client(slack.token, slack.url))
        try:
            with pytest.raises(DirectMessageRefused) as refused:
                await delivery.open_dm("U0X")
        finally:
            await delivery.aclose()
    assert refused.value.permanent and error in refused.value.reason
    assert slack.dms.opened == 0


async def test_slack_dm_is_one_channel_and_the_ephemeral_reaches_only_members() -> None:
    async with FakeSlack(channels=[CHANNEL]) as slack:
        slack.dms.add_user("U0A", channels=[CHANNEL])
        slack.dms.add_user("U0B", channels=[])
        delivery = SlackDelivery(slack_client(slack.token, slack.url))
        try:
            first, again = await delivery.open_dm("U0A"), await delivery.open_dm("U0A")
            assert first == again and first.startswith("D")
            assert await delivery.tell(CHANNEL, "U0A", "hello <!channel> & co")
            assert not await delivery.tell(CHANNEL, "U0B", "not a member")
            assert not await delivery.tell("C0NOWHERE", "U0A", "no such channel")
            slack.revoke(slack.token)
            with pytest.raises(DeliveryError) as bad_token:
                await delivery.open_dm("U0A")
        finally:
            await delivery.aclose()
    assert not isinstance(bad_token.value, DirectMessageRefused)  # the operator's problem
    assert bad_token.value.permanent
    (shown,) = slack.dms.ephemerals
    assert shown == {"channel": CHANNEL, "user": "U0A", "text": "hello &lt;!channel&gt; &amp; co"}


async def test_discord_create_dm_is_one_channel_and_an_unknown_user_is_refused() -> None:
    async with FakeDiscord() as fake:
        fake.dms.add_user("42", accepts_dms=False)
        use_api_base(fake.base)
        delivery = DiscordDelivery(fake.token, pace=None)
        try:
            dm = await delivery.open_dm("42")
            assert dm == await delivery.open_dm("42")
            with pytest.raises(DirectMessageRefused) as unknown:
                await delivery.open_dm("43")
        finally:
            await delivery.aclose()
    assert "10013" in unknown.value.reason
    assert fake.dms.channels == {"42": dm}
