"""connector/web/app."""
