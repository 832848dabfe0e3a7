"""connector/delivery."""
