"""Tamper-evident audit log: events, Merkle tree, signed checkpoints and their verifier."""
