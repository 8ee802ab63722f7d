"""Consent: the form registry, participation consent, use grants, withdrawal, receipts and decide()."""
