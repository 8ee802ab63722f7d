"""Two-person confirmations: the engine, and each domain's kinds of request."""
