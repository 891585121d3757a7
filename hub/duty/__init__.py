"""hub.duty."""
