"""Signed, expiring, single-use install state (Shopify's OAuth `state`, WooCommerce's `user_id`).

The token names what it was issued for (a shop, a store URL) and carries a random nonce. Redeeming
it checks the signature and age, then records the nonce: a second redemption is refused, so a state
seen in a log or a browser history cannot be replayed.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Sequence

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connector.db import transaction
from connector.errors import InstallError
from connector.models import UsedNonce


def _serializer(secret_keys: str | Sequence[str], purpose: str) -> URLSafeTimedSerializer:
    # The purpose is the salt: a Shopify state can never pass for a WooCommerce user_id. itsdangerous
    # signs with the last key of a list and verifies with any: ours are current first, so reversed.
    keys = [secret_keys] if isinstance(secret_keys, str) else list(reversed(secret_keys))
    return URLSafeTimedSerializer(keys, salt=f"connector-install-{purpose}")


def issue(secret_keys: str | Sequence[str], purpose: str, subject: str) -> str:
    """A token for `subject` (a shop domain, a store URL) that `redeem` accepts once."""
    return _serializer(secret_keys, purpose).dumps({"s": subject, "n": secrets.token_urlsafe(18)})


def peek(secret_keys: str | Sequence[str], purpose: str, token: str, max_age: float) -> str:
    """The subject of a valid, unexpired token, without using it up. Raises InstallError."""
    return _load(secret_keys, purpose, token, max_age)["s"]


def _load(secret_keys: str | Sequence[str], purpose: str, token: str, max_age: float) -> dict:
    try:
        data = _serializer(secret_keys, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InstallError("expired_state", "the install link has expired: start the install again") from None
    except BadSignature:
        raise InstallError("bad_state", "the install state is not one this connector issued") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not isinstance(data.get("n"), str):
        raise InstallError("bad_state", "the install state is malformed")
    return data


def redeem(
    sessions: sessionmaker[Session], secret_keys: str | Sequence[str], purpose: str, token: str, *, max_age: float,
    now: datetime,
) -> str:
    """Check the token and use it up; returns its subject. Raises InstallError (bad, expired, replayed)."""
    data = _load(secret_keys, purpose, token, max_age)
    try:
        with transaction(sessions) as session:
            session.add(UsedNonce(nonce=data["n"], purpose=purpose, used_at=now))
    except IntegrityError:
        raise InstallError("replayed_state", "this install state was used already: start the install again") from None
    return data["s"]


def _done(purpose: str) -> str:
    return f"{purpose}:done"


def mark_completed(session: Session, secret_keys: str | Sequence[str], purpose: str, token: str) -> None:
    """Record that the install this redeemed token started went through (see `completed`)."""
    nonce = _load(secret_keys, purpose, token, max_age=float("inf"))["n"]
    session.execute(update(UsedNonce).where(UsedNonce.nonce == nonce, UsedNonce.purpose == purpose)
                    .values(purpose=_done(purpose)))


def completed(session: Session, secret_keys: str | Sequence[str], purpose: str, token: str, max_age: float) -> bool:
    """Did the install started with this token go through? Only that install's own token says yes.

    Anyone can get a token for any store and redeem it with keys that fail, so "the store is installed"
    must never be read off a token: that would tell an outsider which stores use the connector.
    """
    nonce = _load(secret_keys, purpose, token, max_age)["n"]
    return session.scalar(select(UsedNonce.nonce).where(UsedNonce.nonce == nonce,
                                                        UsedNonce.purpose == _done(purpose))) is not None


def prune(session: Session, now: datetime, keep: timedelta = timedelta(days=1)) -> None:
    """Forget nonces older than any state could be (states expire within the hour)."""
    session.execute(delete(UsedNonce).where(UsedNonce.used_at < now - keep))
