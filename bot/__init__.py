"""Paperboy: research papers for Slack and Discord channels."""

__version__ = "0.1.0"
