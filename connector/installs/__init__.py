"""connector/installs."""
