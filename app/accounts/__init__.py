"""Accounts: made, changed, disabled and reset by admins, under the two-person rules."""
