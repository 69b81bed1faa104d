"""mailfollow: notices job-search email that went silent and drafts polite follow-ups."""

__version__ = "0.1.0"
