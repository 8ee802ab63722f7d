"""Cases and their teams."""
