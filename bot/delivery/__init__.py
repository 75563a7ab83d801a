"""Delivery: post rendered digest messages to Slack, Discord, webhooks or the console."""
