"""connector/campaigns."""
