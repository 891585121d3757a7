"""hub.provisioning."""
