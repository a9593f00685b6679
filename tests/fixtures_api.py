"""HTTP API fixtures (API issue)."""
