"""Installs and the store's life after: install state, setup, the daily webhook check, uninstall and erasure,
privacy requests."""
