"""Roles and the rules about combining them."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    DOCUMENTER = "documenter"
    LEGAL = "legal"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"
    ADMIN = "admin"


# Roles whose holders can reach plaintext through one of the named doors.
CONTENT_ROLES = frozenset({Role.DOCUMENTER, Role.LEGAL, Role.CUSTODIAN})
# Roles that oversee others and therefore must never read content themselves.
OVERSIGHT_ROLES = frozenset({Role.ADMIN, Role.AUDITOR})
# Roles that must use a second factor. Documenters must too, unless development mode relaxes it
# (TESTIMONY_SESSION__DOCUMENTER_TOTP_REQUIRED=false).
TOTP_REQUIRED_ROLES = frozenset({Role.LEGAL, Role.CUSTODIAN, Role.AUDITOR, Role.ADMIN})


def incompatible(roles: frozenset[Role]) -> str | None:
    """Why this combination of roles is not allowed, or None."""
    if roles & OVERSIGHT_ROLES and roles & CONTENT_ROLES:
        return "admin and auditor cannot be combined with a role that reads content"
    if OVERSIGHT_ROLES <= roles:
        return "admin and auditor cannot be combined: auditors oversee admins"
    return None
