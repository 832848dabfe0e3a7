"""Stores and influencers: adding, finding and listing them (the CLI, the demo and later the API use this)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import crypto, registry
from connector.core.attribution import SIGNAL_KINDS, Directory, InfluencerRef, match_key
from connector.errors import ConnectorError, DuplicateInfluencer, UnknownStore
from connector.models import Influencer, Store
from connector.core.rules import CREDIT_ON, email_sha256


def canonical_store_key(platform: str, key: str) -> str:
    """The form a store is kept under; raises ConnectorError for a key the platform would not send."""
    canonical = registry.get(platform).normalise_store_key(key)
    if canonical is None:
        raise ConnectorError(f"{key!r} is not a valid {platform} store")
    return canonical


def parse_precedence(value: str) -> str:
    kinds = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [kind for kind in kinds if kind not in SIGNAL_KINDS]
    if unknown or len(set(kinds)) != len(kinds) or not kinds:
        raise ConnectorError(f"precedence must list some of {', '.join(SIGNAL_KINDS)} once each, got {value!r}")
    return ",".join(kinds)


def add_store(
    session: Session,
    secret_key: str,
    platform: str,
    key: str,
    *,
    access_token: str | None = None,
    webhook_secret: str | None = None,
    credit_on: str = "paid",
    forward_test_orders: bool = False,
    precedence: str = ",".join(SIGNAL_KINDS),
) -> Store:
    """Add a store, or update the one with that key (a reinstall reuses the row)."""
    if credit_on not in CREDIT_ON:
        raise ConnectorError(f"credit_on must be one of {', '.join(CREDIT_ON)}, got {credit_on!r}")
    domain = canonical_store_key(platform, key)
    store = session.scalar(select(Store).where(Store.platform == platform, Store.domain == domain))
    if store is None:
        store = Store(platform=platform, domain=domain)
        session.add(store)
        session.flush()  # the id is the associated data the credentials are encrypted with
    store.status = "active"
    store.credit_on = credit_on
    store.forward_test_orders = forward_test_orders
    store.precedence = parse_precedence(precedence)
    if access_token:
        store.access_token_encrypted = crypto.encrypt(secret_key, store.id, access_token)
        # A token given by hand (a custom app's) does not expire: forget what an OAuth install left.
        store.access_token_expires_at = store.refresh_token_encrypted = store.refresh_token_expires_at = None
        store.status_reason = None
    if webhook_secret:
        store.webhook_secret_encrypted = crypto.encrypt(secret_key, store.id, webhook_secret)
    return store


def find_store(session: Session, key: str, platform: str | None = None) -> Store:
    """A store by its key as it was added (shop domain or store URL), any platform unless one is named."""
    platforms = [platform] if platform else sorted(registry.adapters())
    for name in platforms:
        canonical = registry.get(name).normalise_store_key(key)
        if canonical:
            store = session.scalar(select(Store).where(Store.platform == name, Store.domain == canonical))
            if store is not None:
                return store
    raise UnknownStore(key)


def add_influencer(
    session: Session,
    store: Store,
    tracking_id: str,
    *,
    code: str | None = None,
    campaign_id: str | None = None,
    email: str | None = None,
    customer_id: str | None = None,
) -> Influencer:
    """Add an influencer to a store; tracking ids and codes must be unique there, whatever their case."""
    tracking_id = tracking_id.strip()
    if not tracking_id or any(c.isspace() for c in tracking_id) or len(tracking_id) > 100:
        raise ConnectorError("a tracking id is 1 to 100 characters with no spaces")
    code = code.strip() if code and code.strip() else None
    clash = session.scalar(
        select(Influencer).where(Influencer.store_id == store.id, Influencer.tracking_key == match_key(tracking_id))
    )
    if clash is not None:
        raise DuplicateInfluencer(f"tracking id {tracking_id!r} is already used in {store.domain}")
    if code is not None:
        clash = session.scalar(
            select(Influencer).where(Influencer.store_id == store.id, Influencer.promo_code_key == match_key(code))
        )
        if clash is not None:
            raise DuplicateInfluencer(f"code {code!r} already belongs to {clash.tracking_id} in {store.domain}")
    influencer = Influencer(
        store_id=store.id,
        tracking_id=tracking_id,
        tracking_key=match_key(tracking_id),
        promo_code=code,
        promo_code_key=match_key(code) if code else None,
        campaign_id=campaign_id,
        email_sha256=email_sha256(email),
        customer_id=customer_id,
    )
    session.add(influencer)
    session.flush()
    return influencer


def influencers_of(session: Session, store_id: int) -> list[Influencer]:
    return list(session.scalars(select(Influencer).where(Influencer.store_id == store_id).order_by(Influencer.id)))


def _ref(i: Influencer) -> InfluencerRef:
    return InfluencerRef(tracking_id=i.tracking_id, campaign_id=i.campaign_id, promo_code=i.promo_code,
                         email_sha256=i.email_sha256, customer_id=i.customer_id)


def directory_for(session: Session, store_id: int, codes: set[str], tracking_keys: set[str]) -> Directory:
    """Only the active influencers an order's signals name: two indexed lookups, however many the store has."""
    found: list[Influencer] = []
    if codes:
        found += session.scalars(select(Influencer).where(
            Influencer.store_id == store_id, Influencer.active.is_(True), Influencer.promo_code_key.in_(codes)))
    if tracking_keys:
        found += session.scalars(select(Influencer).where(
            Influencer.store_id == store_id, Influencer.active.is_(True), Influencer.tracking_key.in_(tracking_keys)))
    return Directory.of(_ref(i) for i in {i.id: i for i in found}.values())
