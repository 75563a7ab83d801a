"""Fake Slack and Discord servers speaking real HTTP, with fault injection, for tests."""

from .discord import FakeDiscord
from .faults import Fault, FaultPlan
from .slack import FakeSlack

__all__ = ["FakeDiscord", "FakeSlack", "Fault", "FaultPlan"]
