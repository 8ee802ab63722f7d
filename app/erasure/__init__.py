"""Legal holds and erasure: two custodians, a tombstone, and the journal kept with the keys."""
