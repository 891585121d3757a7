"""hub.alerting."""
