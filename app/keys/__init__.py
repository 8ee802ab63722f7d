"""Key custody: where the keyring comes from, per-person data keys, rotation."""
