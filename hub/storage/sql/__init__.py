"""The hub's SQL store: SQLite (embedded default) or PostgreSQL, chosen by one URL setting."""
