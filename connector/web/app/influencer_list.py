"""GET /admin/api/influencers: every influencer of the store, searched and paged on the server, with figures."""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import func, or_, select

from connector.campaigns import figures
from connector.models import Influencer
from connector.web import services
from connector.web.app.answers import PER_PAGE, money, page_fields, page_number, percent
from connector.web.app.auth import merchant_store
from connector.web.app.blueprint import PREFIX, bp

#: Influencer.code_status in the merchant's words ("existing": a code the store already had, not made by us)
CODE_STATES = {
    "none": "No code", "pending": "Being created in the store", "active": "Active in the store",
    "existing": "The store's own code", "failed": "Not created", "removing": "Being removed",
    "removed": "Removed from the store",
}
MAX_QUERY = 100


def _code_state(influencer: Influencer) -> str:
    if influencer.code_status == "none" and influencer.promo_code:
        return CODE_STATES["existing"]  # a code registered as the store already has it: the connector makes none
    return CODE_STATES.get(influencer.code_status, influencer.code_status)


def _escaped_like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@bp.get(f"{PREFIX}/influencers")
def list_influencers():
    public_url = services().settings.public_url
    with services().sessions() as session:
        store = merchant_store(session)  # before reading the request: without a token, 401 and nothing else
        page, q = page_number(), (request.args.get("q") or "").strip()[:MAX_QUERY]
        where = [Influencer.store_id == store.id, Influencer.active.is_(True)]
        if q:
            pattern = _escaped_like(q.lower())
            where.append(or_(Influencer.tracking_key.like(pattern, escape="\\"),
                             func.lower(Influencer.promo_code).like(pattern, escape="\\")))
        total = session.scalar(select(func.count()).select_from(Influencer).where(*where))
        found = list(session.scalars(select(Influencer).where(*where).order_by(Influencer.tracking_key, Influencer.id)
                                     .limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
        numbers = figures.by_influencer(session, store.id, None, [i.tracking_key for i in found])
        rows = []
        for influencer in found:
            entry = numbers.get(influencer.tracking_key, figures.Figures())
            rows.append({
                "tracking_id": influencer.tracking_id, "link": f"{public_url}/t/{influencer.tracking_id}?s={store.id}",
                "code": influencer.promo_code, "code_state": influencer.code_status,
                "code_state_text": _code_state(influencer),
                "code_error": influencer.code_error if influencer.code_status == "failed" else None,
                "clicks": entry.clicks, "orders": entry.orders, "revenue": money(entry.revenue),
                "conversion_rate": percent(entry.conversion_rate),
            })
        return jsonify(influencers=rows, q=q, **page_fields(page, total))
