"""HSM Console: the City of Highland's social media moderation console."""

__version__ = "0.1.0"
