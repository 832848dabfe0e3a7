"""GET /t/<tracking_id>: a shopper's click on an influencer's link. Recorded, then sent on to the store.

The destination is always the influencer's own store: `to` may only name a path there (anything
else lands on the home page), so the link can never be used as an open redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, redirect, request
from sqlalchemy import select

from connector.core.attribution import match_key
from connector.campaigns.influencers import TRACKING_ID
from connector.db import transaction
from connector.models import Click, Influencer, Store, utcnow
from connector.web import services
from connector.web.app.pages import error_page

bp = Blueprint("tracking", __name__)
log = logging.getLogger("connector.tracking")

LINK_STATUSES = ("active", "needs_reauth")
MAX_PATH = 500
CLICK_PARAM = "click_id"
#: stores.id is a 32-bit INTEGER
MAX_STORE_ID = 2**31 - 1
#: clicks on one link from one browser (same address and user agent) within this count once
REPEAT_WINDOW = timedelta(minutes=30)


def new_click_id() -> str:
    return f"ck_{secrets.token_hex(12)}"


def safe_path(to: str | None) -> str:
    """`to` when it is a plain path on the store (with its query), else the home page "/"."""
    if not to or len(to) > MAX_PATH or not to.startswith("/") or to.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in to):
        return "/"  # control characters, spaces or backslashes: browsers "fix" these into other hosts
    parts = urlsplit(to)
    if parts.scheme or parts.netloc:
        return "/"
    return urlunsplit(("", "", parts.path, parts.query, ""))


def storefront_home(store: Store) -> str:
    """Where the store's shoppers land: its storefront URL (primary domain) when known."""
    if store.storefront_url:
        return store.storefront_url.rstrip("/")
    return store.domain.rstrip("/") if store.domain.startswith(("http://", "https://")) else f"https://{store.domain}"


def landing_url(store: Store, path: str, tracking_id: str, click_id: str) -> str:
    home = urlsplit(storefront_home(store))
    target = urlsplit(path)
    query = [(k, v) for k, v in parse_qsl(target.query, keep_blank_values=True) if k not in ("ref", CLICK_PARAM)]
    query += [("ref", tracking_id), (CLICK_PARAM, click_id)]
    base_path = home.path.rstrip("/")
    return urlunsplit((home.scheme, home.netloc, base_path + target.path, urlencode(query), ""))


def _keyed_hash(secret_key: str, value: str | None) -> str | None:
    """A keyed hash: enough to see the same address click a hundred times, useless to recover the address."""
    if not value:
        return None
    return hmac.new(secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


def _store_id(value: str | None) -> int | None | bool:
    """`s=` as a store id; None when absent, False when no store can have it.

    Bounded to the id column's range: a larger number reached the database as an error (a 500) on
    both SQLite (too large for INTEGER) and PostgreSQL (integer out of range).
    """
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 10 or not 0 < int(value) <= MAX_STORE_ID:
        return False
    return int(value)


def _recent_click(session, influencer_id: int, ip_hash: str | None, agent_hash: str | None,
                  now: datetime) -> str | None:
    """This browser's click on this link within REPEAT_WINDOW, if any: a repeat is the same click again.

    One browser reloading a link (or a script hammering it) then counts once in the stats and adds no
    row; the shopper is still sent on, with the first click's id.
    """
    if ip_hash is None or agent_hash is None:
        return None
    return session.scalar(select(Click.id).where(
        Click.influencer_id == influencer_id, Click.ip_sha256 == ip_hash, Click.user_agent_sha256 == agent_hash,
        Click.clicked_at >= now - REPEAT_WINDOW).order_by(Click.clicked_at).limit(1))


def _not_found(message: str):
    return error_page(404, "This link does not lead anywhere", message)


def _outlived_store(session, tracking_id: str, store_id: int | None) -> Store | None:
    """The store of a link that outlived its influencer: the one store (the one `s=` names, when it names one)
    where an influencer with this tracking id was removed. Posts stay up long after a campaign: their shoppers
    still want the shop. An id no store ever had stays a 404, `s=` or not: otherwise counting s=1, 2, 3…
    would list every store the connector holds."""
    query = select(Store).join(Influencer, Influencer.store_id == Store.id).where(
        Influencer.tracking_key == match_key(tracking_id), Influencer.active.is_(False),
        Store.status.in_(LINK_STATUSES))
    if store_id is not None:
        query = query.where(Store.id == store_id)
    found = session.scalars(query.limit(2)).all()
    return found[0] if len(found) == 1 else None


def _to_store_home(store: Store):
    answer = redirect(storefront_home(store) + "/", 302)
    answer.headers["Cache-Control"] = "no-store"
    return answer


@bp.get("/t/<tracking_id>")
def click(tracking_id: str):
    svc = services()
    if len(tracking_id) > 100 or not TRACKING_ID.fullmatch(tracking_id):
        return _not_found("The link is not valid.")
    store_id = _store_id(request.args.get("s"))
    if store_id is False:
        return _not_found("The link is not valid.")
    with transaction(svc.sessions) as session:
        query = (select(Influencer, Store).join(Store, Store.id == Influencer.store_id)
                 .where(Influencer.tracking_key == match_key(tracking_id), Influencer.active.is_(True),
                        Store.status.in_(LINK_STATUSES)))
        if store_id is not None:
            query = query.where(Store.id == store_id)
        found = session.execute(query.limit(2)).all()
        if not found:
            # A removed influencer's link: the store's home page, no click, no ref.
            outlived = _outlived_store(session, tracking_id, store_id)
            if outlived is not None:
                log.info("link /t/%s outlived its influencer: sent to %s's home page, nothing recorded",
                         tracking_id, outlived.domain)
                return _to_store_home(outlived)
            return _not_found("No influencer has this link.")
        if len(found) != 1:
            # The same tracking id in two stores and the link does not say which (`s=`).
            return _not_found("This link is used in several stores; use the link the campaign gave you.")
        influencer, store = found[0]
        path = safe_path(request.args.get("to"))
        now = utcnow()
        ip_hash = _keyed_hash(svc.settings.secret_key, request.remote_addr)
        agent_hash = _keyed_hash(svc.settings.secret_key, request.user_agent.string)
        click_id = _recent_click(session, influencer.id, ip_hash, agent_hash, now)
        if click_id is None:
            click_id = new_click_id()
            session.add(Click(id=click_id, store_id=store.id, influencer_id=influencer.id,
                              tracking_key=influencer.tracking_key, clicked_at=now, ip_sha256=ip_hash,
                              user_agent_sha256=agent_hash, path=path))
        target = landing_url(store, path, influencer.tracking_id, click_id)
    answer = redirect(target, 302)
    answer.headers["Cache-Control"] = "no-store"  # every click must reach us, not a cache
    return answer
