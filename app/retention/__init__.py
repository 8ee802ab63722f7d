"""Retention: when each category of a person's data comes due, the custodians' review, and the run that deletes it."""
