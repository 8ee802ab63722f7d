"""Consented exports: requests, approvals, build jobs, disclosure levels, bundles and the disclosure ledger."""
