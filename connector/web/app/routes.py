"""The merchant app's blueprint with every route module loaded onto it (what create_app registers)."""

from connector.web.app import deliveries, influencer_list, onboarding, orders, overview, settings_form  # noqa: F401
from connector.web.app.blueprint import bp

__all__ = ["bp"]
