"""/api/v1, what the tracking backend calls: a module per resource (routes, models, operations), shared parts."""

from __future__ import annotations

# Importing a module registers its routes (or error answers, or token check) on the blueprint: the resources
# in the order their routes have always been registered in, then the document and the token check it feeds.
from connector.web.api import errors, stores, campaigns, influencers, conversions, openapi, auth  # noqa: F401
from connector.web.api import orders  # noqa: F401 (an order credited by hand)
from connector.web.api.blueprint import bp

__all__ = ["bp"]
