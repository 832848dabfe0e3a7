"""The seam between the core and the platform adapters: neutral values and the adapter Protocol.

Adapters turn platform JSON into these values; the core never sees a platform payload shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Iterator, Mapping, Protocol, Sequence

# The order's parts live in their own module; adapters name them as the seam's.
from connector.core.order_parts import Journey, LineItem, Needs, Renewal, Visit  # noqa: F401
from connector.core.past_orders import BackfillItem, BackfillRefused, PastOrder, ReadCheckpoint  # noqa: F401
from connector.core.webhook_health import (DISABLED, ELSEWHERE, MISSING, OTHER_SECRET, PAUSED,  # noqa: F401
                                           WebhookHealth, WebhookRepair)

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

    from connector.settings import Settings


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Customer:
    id: str | None
    email: str | None
    #: True/False when the platform says whether this is the customer's first order, None when it does not.
    first_order: bool | None = None


@dataclass(frozen=True)
class RefundEvent:
    """A refund of part or all of an order."""

    refund_id: str
    order_id: str
    occurred_at: datetime
    #: the refunded part of the commission base, shop currency
    commission_base: Money
    presentment_base: Money | None = None
    #: the refunded lines, positive amounts adding up to `commission_base`; empty for a refund of an amount
    #: alone (the core then shares it out over the purchase's lines)
    items: tuple[LineItem, ...] = ()
    #: per refunded line (its line_id), the tax its amount holds if the shop's prices include tax. Shopify's refund
    #: line `subtotal` holds it there, and refunds/create does not say whether they do: the core takes it out
    #: (amounts and items) when the order's own event said so (OrderEvent.taxes_included), as the purchase did
    included_tax: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderEvent:
    """The state of one order as one delivery described it."""

    order_id: str
    order_name: str | None
    topic: str
    occurred_at: datetime
    financial_status: str | None
    #: the platform says the order is paid (or was paid and is now partly or wholly refunded)
    paid: bool
    cancelled: bool
    cancelled_at: datetime | None
    test: bool
    customer: Customer
    discount_codes: tuple[str, ...]
    cart_attributes: Mapping[str, str]
    landing_url: str | None
    landing_ref: str | None
    #: subtotal after discounts; shipping, taxes and tips out; shop currency
    commission_base: Money
    presentment_base: Money | None = None
    refunds: tuple[RefundEvent, ...] = ()
    #: where the shopper came from, as the platform recorded it (utm_source, utm_campaign, source_type, ...)
    traffic: Mapping[str, str] = field(default_factory=dict)
    #: the secret a browser report must show to be joined with this order: Shopify's `checkout_token`,
    #: WooCommerce's `order_key`; None when the delivery does not carry it
    proof: str | None = None
    #: the order's lines as they stand after edits, refunds not taken out; their amounts add up to
    #: `commission_base` exactly (which is, likewise, the edited order's base before refunds)
    items: tuple[LineItem, ...] = ()
    #: when the platform last changed the order (an edit moves it): an older state never adjusts a newer one
    updated_at: datetime | None = None
    #: the shop's prices include tax (Shopify's refund line subtotals then hold tax too; WooCommerce's never do)
    taxes_included: bool = False
    #: a subscription's recurring order (None: not a renewal, as far as the delivery and the platform say)
    renewal: Renewal | None = None
    #: the order starts a subscription (a line with a selling plan, WooCommerce Subscriptions' parent order)
    starts_subscription: bool = False
    #: the platform's record of the shopper's visits, when `enrich` read it
    journey: Journey | None = None


@dataclass(frozen=True)
class OrderDeleted:
    """The order is gone from the store (WooCommerce order.deleted): a credited purchase is cancelled."""

    order_id: str
    occurred_at: datetime


@dataclass(frozen=True)
class AppUninstalled:
    """The merchant removed the app: its credentials are revoked already."""


@dataclass(frozen=True)
class CustomerDataRequest:
    """The merchant asks for what the connector holds about one customer (privacy law)."""

    request_id: str | None
    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerRedact:
    """Erase one customer's personal data."""

    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreRedact:
    """Erase everything about the store (sent some time after an uninstall)."""


@dataclass(frozen=True)
class CustomerCreated:
    """A shopper signed up (Shopify customers/create, WooCommerce customer.created): a possible lead."""

    customer_id: str
    email: str | None
    occurred_at: datetime


NeutralEvent = OrderEvent | RefundEvent | OrderDeleted | CustomerCreated
#: events about the store or its customers rather than an order; handled whatever the store's status
LifecycleEvent = AppUninstalled | CustomerDataRequest | CustomerRedact | StoreRedact
#: events the adapter's `confirm` asks the platform about before the worker applies one, since the headers they
#: arrived under are not signed: those that destroy something (the store's credentials, a credited purchase),
#: and sign-ups, which name no store and can earn a lead
CONFIRMED_EVENTS = (AppUninstalled, OrderDeleted, CustomerCreated)


@dataclass(frozen=True)
class Delivery:
    """A delivery the connector fetched itself (reconciliation), stored like a webhook."""

    topic: str
    #: stable for one state of one order, so fetching it again stores nothing new
    delivery_id: str
    body: bytes
    #: the order it describes, so reconciliation can tell orders it had never seen from known ones
    order_id: str | None = None


PERCENTAGE, FIXED_AMOUNT = "percentage", "fixed_amount"


@dataclass(frozen=True)
class DiscountTerms:
    """What an influencer's promo code gives the shopper. Validated by the core before any adapter sees it."""

    #: percentage (value 0 < v <= 100, percent off the order) or fixed_amount (value > 0, store currency, off the order)
    kind: str
    value: Decimal
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    #: total uses across all customers; None = unlimited
    usage_limit: int | None = None
    once_per_customer: bool = False

    def group_key(self) -> str:
        """Equal terms give equal keys: influencers of one campaign with equal terms share one Shopify discount."""
        def stamp(moment: datetime | None) -> str:
            return moment.isoformat() if moment else "-"
        return "|".join([self.kind, f"{self.value.normalize():f}", stamp(self.starts_at), stamp(self.ends_at),
                         str(self.usage_limit or "-"), "once" if self.once_per_customer else "many"])


@dataclass(frozen=True)
class CodeRequest:
    """Make `code` work in the store for one influencer."""

    influencer_id: int
    tracking_id: str
    campaign_id: str | None
    code: str
    terms: DiscountTerms


def discount_group_key(campaign_id: str | None, terms: DiscountTerms, tracking_id: str | None = None) -> str:
    """Influencers of one campaign with equal terms share one platform discount (Shopify).

    Not when the terms limit the uses: Shopify counts a discount's usage limit across all of its codes, and
    the limit is each influencer's, so such a code gets a discount of its own.
    """
    owner = f"|{tracking_id.lower()}" if terms.usage_limit is not None and tracking_id else ""
    return f"{campaign_id or '-'}|{terms.group_key()}{owner}"


@dataclass(frozen=True)
class CodeResult:
    """What became of one CodeRequest or CodeRemoval."""

    influencer_id: int
    #: active (the code works in the store), removed (deactivated), failed (error says why; may be retried)
    status: str
    #: the code as it now exists in the store (the collision policy may have changed it)
    code: str | None = None
    #: the platform's id of the code (Shopify DiscountRedeemCode gid, WooCommerce coupon id)
    remote_id: str | None = None
    #: the platform's id of the discount it belongs to (Shopify DiscountCodeNode gid; WooCommerce: the coupon id)
    discount_id: str | None = None
    #: the code already existed in the store as ours and was taken over rather than created
    adopted: bool = False
    error: str | None = None
    #: False when retrying cannot help (the store refused the code itself); True for outages and throttling
    retryable: bool = False


@dataclass(frozen=True)
class CodeRemoval:
    """Stop `code` from working in the store; the connector keeps its history."""

    influencer_id: int
    code: str
    remote_id: str | None
    discount_id: str | None


@dataclass(frozen=True)
class CodeBatch:
    """An adapter's answer to create_codes / remove_codes."""

    results: tuple[CodeResult, ...]
    #: discounts made or found, by DiscountTerms group key + campaign (group_key() of the request): reused next time
    discounts: Mapping[str, str] = field(default_factory=dict)
    #: HTTP calls made to the store's API, for the benchmarks
    calls: int = 0


@dataclass(frozen=True)
class DeliveryHeaders:
    """What the edge needs from a webhook's headers to verify and store it."""

    store_key: str
    topic: str
    delivery_id: str
    signature: str
    #: when the platform says the event happened (Shopify's X-Shopify-Triggered-At), if it says
    triggered_at: datetime | None = None


@dataclass(frozen=True)
class StoreView:
    """What an adapter may know about a store when it verifies a delivery."""

    id: int
    domain: str
    webhook_secret: str | None
    #: the platform's own id of the store (Shopify's numeric shop id), when setup has read it
    shop_id: str | None = None
    #: the host of the storefront (Shopify's primary domain), when known
    storefront_host: str | None = None


@dataclass(frozen=True)
class SetupStep:
    """One thing setup found in the store, for the merchant's onboarding list, in the merchant's words."""

    key: str
    title: str
    #: done, todo (the merchant or operator must act) or failed (the connector tries again)
    state: str
    detail: str
    action: str | None = None
    #: an https page where the action is taken
    action_url: str | None = None


@dataclass(frozen=True)
class SetupReport:
    """What setup did (one line for the log) and what it found, step by step."""

    summary: str
    steps: tuple[SetupStep, ...] = ()


class PlatformAdapter(Protocol):
    """What the core asks of a platform. Adapters are found through the `connector.platforms` entry points."""

    name: str
    #: topics the worker turns into neutral events; other authentic topics are answered 200 and dropped
    handled_topics: frozenset[str]

    def read_headers(self, headers: Mapping[str, str], body: bytes) -> DeliveryHeaders | None:
        """Pick the delivery's store key, topic, delivery id and signature; raise MissingHeader.

        None means a platform ping that is answered 200 and stored nowhere (WooCommerce's creation ping).
        """

    def webhook_secrets(self, settings: "Settings", store: StoreView | None) -> Sequence[str]:
        """The secrets a delivery may be signed with (current first); empty when none is configured."""

    def verify(self, body: bytes, signature: str, secrets: Sequence[str]) -> None:
        """Raise BadSignature unless `signature` is one secret's signature over the raw body."""

    def normalise_store_key(self, key: str) -> str | None:
        """The canonical form stores are kept under, or None when the key is not a valid store."""

    def check_body(self, topic: str, body: bytes, store_key: str | None, store: StoreView | None) -> None:
        """After the signature: raise WrongShop or NotTopicBody unless the body is what `topic` carries, for
        this store. A signature proves who signed the bytes, not what the unsigned headers claim about them."""

    def confirm(self, settings: "Settings", sessions: "sessionmaker", store_id: int,
                event: "NeutralEvent | LifecycleEvent") -> str | None:
        """Ask the platform before an event that destroys something is applied (an uninstall, a deletion).

        None: confirmed, or nothing to confirm. A string: why the platform contradicts it (the event is kept
        as rejected). Raises PlatformError when the platform cannot tell now (the event is retried).
        """

    def normalise(self, topic: str, body: bytes) -> NeutralEvent | LifecycleEvent | None:
        """Turn a stored delivery into a neutral event (None for a topic with nothing to do); raise MalformedPayload."""

    def merchant_store_key(self, settings: "Settings", headers: Mapping[str, str]) -> str | None:
        """The store key a merchant app request is proven to come from (Shopify: the session token's shop).

        None when the request carries none of this platform's credentials; MerchantAuthError when it
        carries some that do not hold. Optional: an adapter without it has no merchant app.
        """

    def setup(self, settings: "Settings", sessions: "sessionmaker", store_id: int) -> "str | SetupReport":
        """Register what the store needs (webhooks) idempotently; return a one-line summary.

        Raises PlatformAuthError when the store refuses the credentials, PlatformError when it may work later.
        """

    def check_webhooks(self, settings: "Settings", sessions: "sessionmaker", store_id: int) -> WebhookHealth:
        """Read the store's subscriptions and mend the ones the connector needs: missing, disabled, elsewhere.

        Optional (the worker's daily check skips an adapter without it). Only the list is read when all is
        well. Raises PlatformAuthError when the store refuses the credentials, PlatformError when the list
        cannot be read now; a repair that fails is a WebhookRepair with its error.
        """

    def enrich(self, settings: "Settings", sessions: "sessionmaker", store_id: int, event: OrderEvent,
               needs: Needs) -> OrderEvent:
        """The event with what `needs` asks for read from the platform (visits, a renewal's start, exact refunds).

        Optional (an adapter without it credits from the delivery alone). Called before the event's transaction.
        What cannot be read for good (a missing scope, a contract of another app) comes back as the value's
        `error`/`lookup_error`, never as an exception; PlatformError (an outage, throttling) retries the event.
        """

    def reconcile(self, settings: "Settings", sessions: "sessionmaker", store_id: int, since: datetime) -> Iterator[Delivery]:
        """Orders updated since `since`, as deliveries the worker handles like webhooks."""

    def backfill_orders(self, settings: "Settings", sessions: "sessionmaker", store_id: int, since: datetime,
                        resume: str | None) -> Iterator[BackfillItem]:
        """Orders placed since `since` for a backfill (past_orders.py), in as few calls as the platform allows.

        Optional. PastOrders, a ReadCheckpoint after each piece of work (a page, a poll, a download), the last one
        `done`; resumed from a checkpoint's `resume`, the orders after it (some again at the boundary). Raises
        BackfillRefused (a scope not granted: the message says what to do), PlatformAuthError, PlatformError.
        """

    def create_codes(self, settings: "Settings", sessions: "sessionmaker", store_id: int,
                     requests: Sequence[CodeRequest], discounts: Mapping[str, str]) -> CodeBatch:
        """Create the codes in the store, in as few calls as the platform allows, adopting codes that are ours.

        `discounts` maps a group key (discount_group_key) to a platform discount made earlier. Raises
        PlatformAuthError when the store refuses the credentials, PlatformError when nothing could be done
        now; per-code problems are failed CodeResults.
        """

    def remove_codes(self, settings: "Settings", sessions: "sessionmaker", store_id: int,
                     removals: Sequence[CodeRemoval]) -> CodeBatch:
        """Deactivate the codes in the store (history stays in the store and in the connector)."""
