"""hub.storage."""
