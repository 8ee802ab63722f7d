"""Consented exports: signed, verifiable bundles of what each survivor agreed to disclose."""
