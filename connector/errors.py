"""One small error hierarchy. HTTP statuses are decided at the edge only."""

from __future__ import annotations


class ConnectorError(Exception):
    """Something went wrong in the connector."""

    def __init__(self, message: str | None = None):
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigurationError(ConnectorError):
    """A setting is missing or malformed."""


class VerificationError(ConnectorError):
    """A webhook delivery could not be verified."""

    #: a short, stable reason the edge maps to an HTTP status and logs
    reason = "unverified"


class MissingHeader(VerificationError):
    """A required webhook header is missing."""

    reason = "missing_header"

    def __init__(self, header: str):
        super().__init__(f"missing header {header}")
        self.header = header


class BadHeader(VerificationError):
    """A webhook header has a value the connector cannot take."""

    reason = "bad_header"


class BadSignature(VerificationError):
    """The webhook signature does not match any configured secret."""

    reason = "bad_signature"


class NoSecret(VerificationError):
    """No secret is configured to verify this platform's webhooks."""

    reason = "no_secret"


class WrongShop(VerificationError):
    """The signed body belongs to another shop than the one the headers name (or names none)."""

    reason = "wrong_shop"


class NotTopicBody(VerificationError):
    """The signed bytes are not the JSON object the delivery's topic carries."""

    reason = "not_topic_body"


class MerchantAuthError(ConnectorError):
    """A request to the merchant app carried credentials that do not hold (a forged, expired or foreign token)."""


class StorageUnavailable(ConnectorError):
    """A delivery could not be stored now; the platform should send it again."""


class MalformedPayload(ConnectorError):
    """An authentic webhook body could not be understood; it is kept and flagged."""


class UnknownStore(ConnectorError):
    """No such store."""

    def __init__(self, store: str):
        super().__init__(f"no store {store!r}")
        self.store = store


class UnknownPlatform(ConnectorError):
    """No adapter is registered for this platform."""

    def __init__(self, platform: str):
        super().__init__(f"no adapter for platform {platform!r}")
        self.platform = platform


class DuplicateInfluencer(ConnectorError):
    """The tracking id or promo code is already taken in this store."""


class PlatformError(ConnectorError):
    """A call to the store's platform failed; it can be tried again later."""


class PlatformAuthError(PlatformError):
    """The platform refused the store's credentials: the merchant must authorise the app again."""


class CredentialsRevoked(PlatformAuthError):
    """The platform says the store's credentials no longer work at all (revoked, as after an uninstall)."""


class UnsafeStoreUrl(ConnectorError):
    """The store URL is not one the connector will call (not https, or it resolves to a private address)."""


class InstallError(ConnectorError):
    """An install request could not be accepted."""

    #: a short, stable reason: bad_shop, bad_hmac, stale_timestamp, bad_state, expired_state, replayed_state,
    #: bad_session_token, scopes_missing, not_configured, bad_request
    reason = "install_refused"

    def __init__(self, reason: str, message: str | None = None):
        super().__init__(message or reason.replace("_", " "))
        self.reason = reason
