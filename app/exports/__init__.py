"""Consented exports: requests, approvals, build jobs and the disclosure ledger."""
