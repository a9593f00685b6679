"""PostgreSQL fixtures (users issue)."""
