"""hub.ingest.pipeline."""
