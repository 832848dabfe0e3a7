"""connector/core."""
