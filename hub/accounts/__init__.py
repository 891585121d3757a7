"""hub.accounts."""
