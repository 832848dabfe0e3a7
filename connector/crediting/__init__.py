"""connector/crediting."""
