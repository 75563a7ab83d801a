"""Persistence: the paper archive, source state, profiles, posted ledger, and their migrations."""
