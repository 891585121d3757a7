"""hub.web."""
