"""Accounts, roles, sessions, tokens, 2FA and the one policy module."""
