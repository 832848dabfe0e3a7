"""HTTP surfaces, one blueprint each."""

from flask import current_app


def services():
    """The app's shared Services (see connector.create_app)."""
    return current_app.extensions["connector"]
