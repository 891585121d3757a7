"""hub.web.routes."""
