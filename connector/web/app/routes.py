"""The merchant app's blueprint with every route module loaded onto it (what create_app registers)."""

from connector.web.app import deliveries, influencer_list, onboarding, orders, overview, settings_form  # noqa: F401
from connector.web.app import manual_credit  # noqa: F401 (an order credited by hand)
from connector.web.app import backfill_panel  # noqa: F401 (past orders: a backfill)
from connector.web.app.blueprint import bp

__all__ = ["bp"]
