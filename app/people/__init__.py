"""Interviewees: pseudonym codes, sealed identity, safe contact, guardians."""
