"""`python -m bot` runs the paperboy command."""

from bot.cli import main

main()
