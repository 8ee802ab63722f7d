"""Plumbing every domain uses; it imports no domain."""
