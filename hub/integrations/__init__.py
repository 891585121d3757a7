"""hub.integrations."""
