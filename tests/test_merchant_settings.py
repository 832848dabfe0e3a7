"""The settings the merchant app reads and saves (GET/PUT /admin/api/settings) for returning customers, renewals and
the five kinds of signal; the rest of the settings, and every route's session-token checks, are in
test_merchant_app.py.
"""

from __future__ import annotations

from connector.models import Store

from .test_merchant_app import bearer, call


def test_a_store_saved_with_fewer_kinds_is_shown_with_every_kind_as_attribution_applies_them(shop_client, store,
                                                                                            sessions):
    merchant = shop_client
    with sessions() as session:
        session.get(Store, store.id).precedence = "click,promo_code"  # saved before renewals and returning customers
        session.commit()
    answer = merchant.get("/admin/api/settings", headers=bearer()).json
    assert answer["settings"]["precedence"] == ["click", "promo_code", "renewal", "landing_page", "customer"]
    assert (answer["settings"]["lifetime_days"], answer["settings"]["renewals"]) == (0, "credit")
    assert [(c["value"], c["label"]) for c in answer["choices"]["precedence"]] == [
        ("renewal", "Subscription renewal"), ("promo_code", "Promo code"), ("click", "Click on a link"),
        ("landing_page", "Ref in the landing page"), ("customer", "Returning customer")]
    assert [c["value"] for c in answer["choices"]["renewals"]] == ["credit", "ignore"]
    assert all(c["help"] for c in answer["choices"]["renewals"])
    # saved back as shown: the form's five kinds, nothing else changed
    saved = call(merchant, "put", "/admin/api/settings", {**answer["settings"], "lifetime_days": 0}, bearer())
    assert saved.status_code == 200 and saved.json["settings"] == answer["settings"]
    with sessions() as session:
        assert session.get(Store, store.id).precedence == "click,promo_code,renewal,landing_page,customer"


def test_a_lifetime_refused_says_only_what_a_value_must_be_beside_its_field(shop_client, store):
    answer = call(shop_client, "get", "/admin/api/settings", None, bearer()).json["settings"]
    refused = call(shop_client, "put", "/admin/api/settings", {**answer, "lifetime_days": 3651}, bearer())
    assert refused.status_code == 422
    assert refused.json["field"] == "lifetime_days"
    assert refused.json["message"] == "A whole number of days from 0 (off) to 3650."
