"""The tables, by stage; every name importable from here. Timestamps are UTC and aware; money is exact decimal."""

from connector.models.base import NAMING, Base, DecimalAmount, UTCDateTime, utcnow
from connector.models.stores import Store, UsedNonce, PrivacyRequest
from connector.models.campaigns import Influencer, Campaign, Discount, Click, ClickCount, StorefrontReport, Customer
from connector.models.events import Event, REPORT_TOPICS
from connector.models.orders import Order, AttributionRecord, Conversion, ConversionCredit, DeliveryAttempt
from connector.models.operations import Alert, WorkerBeat

__all__ = [
    "NAMING",
    "Base",
    "DecimalAmount",
    "UTCDateTime",
    "utcnow",
    "Store",
    "UsedNonce",
    "PrivacyRequest",
    "Influencer",
    "Campaign",
    "Discount",
    "Click",
    "ClickCount",
    "StorefrontReport",
    "Customer",
    "Event",
    "REPORT_TOPICS",
    "Order",
    "AttributionRecord",
    "Conversion",
    "ConversionCredit",
    "DeliveryAttempt",
    "WorkerBeat",
    "Alert",
]
from connector.models.backfill import BackfillOrder, BackfillRun  # noqa: E402,F401 (backfills; issue 17)
