"""Installs and the store's life after: install state, setup, uninstall and erasure, privacy requests."""
