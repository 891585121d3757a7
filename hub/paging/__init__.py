"""hub.paging."""
