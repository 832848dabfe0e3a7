"""connector/intake."""
