"""Stream processor fixtures (stream issue)."""
