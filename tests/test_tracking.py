"""GET /t/<tracking_id>: a click is recorded (without raw personal data) and sent on to the store, never elsewhere."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import func, select

from connector.campaigns import directory
from connector.db import transaction
from connector.models import Click, Influencer, Store

HOME = "https://test-shop.myshopify.com"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
SHOPPER_IP = "203.0.113.7"
CLICK_ID = re.compile(r"ck_[0-9a-f]{24}")


def _clicks(sessions) -> list[Click]:
    with sessions() as session:
        return list(session.scalars(select(Click).order_by(Click.clicked_at)))


def _count(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Click))


def _follow(client, tracking_id: str = "alice", **query):
    return client.get(f"/t/{tracking_id}", query_string=query,
                      headers={"User-Agent": BROWSER}, environ_base={"REMOTE_ADDR": SHOPPER_IP})


def _target(answer) -> tuple[str, str, dict]:
    """(origin, path, query) of the redirect, the query with each name once."""
    assert answer.status_code == 302, answer.data
    location = urlsplit(answer.headers["Location"])
    query = parse_qs(location.query, keep_blank_values=True)
    assert all(len(values) == 1 for values in query.values()), location.query
    return f"{location.scheme}://{location.netloc}", location.path, {k: v[0] for k, v in query.items()}


def test_a_click_is_recorded_and_lands_on_the_store_with_ref_and_click_id(client, sessions, store):
    before = datetime.now(timezone.utc)
    answer = _follow(client, to="/products/wool-scarf?variant=7&utm_source=instagram")
    origin, path, query = _target(answer)
    assert (origin, path) == (HOME, "/products/wool-scarf")
    # the path's own query is kept, in order, and ours comes after it
    assert list(parse_qsl(urlsplit(answer.headers["Location"]).query)) == [
        ("variant", "7"), ("utm_source", "instagram"), ("ref", "alice"), ("click_id", query["click_id"])]
    assert answer.headers["Cache-Control"] == "no-store"  # every click must reach the connector, not a cache

    [click] = _clicks(sessions)
    assert click.id == query["click_id"] and CLICK_ID.fullmatch(click.id)
    assert click.store_id == store.id and click.tracking_key == "alice"
    assert click.path == "/products/wool-scarf?variant=7&utm_source=instagram"
    assert before - timedelta(seconds=1) <= click.clicked_at <= datetime.now(timezone.utc)
    with sessions() as session:
        assert session.get(Influencer, click.influencer_id).tracking_id == "alice"
    # IP and user agent only as keyed hashes: not the raw values, and not their plain SHA-256 either,
    # which anyone could reverse by hashing every IPv4 address.
    for raw, kept in ((SHOPPER_IP, click.ip_sha256), (BROWSER, click.user_agent_sha256)):
        assert kept is not None and re.fullmatch(r"[0-9a-f]{64}", kept)
        assert kept != raw and raw not in kept and kept != hashlib.sha256(raw.encode()).hexdigest()


def test_clicks_from_one_address_hash_alike_and_another_browser_is_another_click(client, sessions, store):
    first = _target(_follow(client))[2]
    client.get("/t/alice", environ_base={"REMOTE_ADDR": "198.51.100.20"})
    other_agent = _target(client.get("/t/alice", headers={"User-Agent": "Another/1.0"},
                                     environ_base={"REMOTE_ADDR": SHOPPER_IP}))[2]
    assert first["click_id"] != other_agent["click_id"]
    by_id = {c.id: c for c in _clicks(sessions)}
    one, three = by_id[first["click_id"]], by_id[other_agent["click_id"]]
    assert one.ip_sha256 == three.ip_sha256 and one.user_agent_sha256 != three.user_agent_sha256
    assert len({c.ip_sha256 for c in _clicks(sessions)}) == 2


def test_tracking_ids_match_whatever_their_case_and_the_redirect_uses_the_registered_one(client, store):
    assert _target(_follow(client, "ALICE"))[2]["ref"] == "alice"


def test_no_to_lands_on_the_home_page(client, store):
    origin, path, query = _target(_follow(client))
    assert (origin, path, set(query)) == (HOME, "/", {"ref", "click_id"})


def test_a_ref_or_click_id_in_to_is_replaced_by_the_real_ones(client, store):
    _, path, query = _target(_follow(client, to="/p?ref=mallory&click_id=ck_forged&a=1"))
    assert path == "/p" and query["ref"] == "alice" and query["click_id"] != "ck_forged" and query["a"] == "1"


def test_the_storefront_url_is_where_shoppers_land(client, sessions, store):
    with transaction(sessions) as session:
        session.get(Store, store.id).storefront_url = "https://www.scarves.example/en/"
    origin, path, _ = _target(_follow(client, to="/products/x"))
    assert (origin, path) == ("https://www.scarves.example", "/en/products/x")


def test_an_unknown_tracking_id_is_a_404_page_and_records_nothing(client, sessions, store):
    answer = client.get("/t/nobody")
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert b"does not lead anywhere" in answer.data
    assert "Location" not in answer.headers
    assert _count(sessions) == 0


@pytest.mark.parametrize("tracking_id", ["a" * 10_000, "a" * 101, "al%20ice", "-alice", "al%C3%AFce"])
def test_an_impossible_tracking_id_is_a_404_and_records_nothing(client, sessions, store, tracking_id):
    assert client.get(f"/t/{tracking_id}").status_code == 404
    assert _count(sessions) == 0


@pytest.mark.parametrize("to", [
    "https://evil.example",
    "https://evil.example/products/x",
    "//evil.example",
    "//evil.example/path",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/\t/evil.example",  # browsers drop tabs and newlines from URLs: this would become //evil.example
    "/\n/evil.example",
    "/path\r\nLocation: https://evil.example",
    "/path\x00",
    "/path\x7f",
    "/a b",
    "evil.example",
    "",
    "/" + "a" * 600,  # longer than a path is kept
])
def test_a_bad_to_falls_back_to_the_stores_home_page(client, sessions, store, to):
    answer = _follow(client, to=to)
    origin, path, query = _target(answer)
    assert (origin, path, set(query)) == (HOME, "/", {"ref", "click_id"})
    assert "evil" not in answer.headers["Location"]
    [click] = _clicks(sessions)
    assert click.path == "/"  # the click still counts: only the destination is refused


def test_a_removed_influencers_link_lands_on_the_stores_home_page_and_records_nothing(client, sessions, store):
    with transaction(sessions) as session:
        session.scalars(select(Influencer).where(Influencer.tracking_key == "bob")).one().active = False
    for link in ("/t/bob", f"/t/bob?s={store.id}", f"/t/BOB?s={store.id}&to=/products/x"):
        answer = client.get(link)
        # posts outlive campaigns: their shoppers still reach the shop, with no ref that would credit bob
        assert answer.status_code == 302 and answer.headers["Location"] == HOME + "/", link
        assert answer.headers["Cache-Control"] == "no-store"
    assert _count(sessions) == 0
    assert _follow(client, "alice").status_code == 302  # the others still work


def test_an_id_no_store_ever_had_is_a_404_even_with_a_stores_s(client, sessions, store):
    # Landing it on the store's home page would let anyone count s=1, 2, 3… to list the connector's stores.
    assert client.get(f"/t/nobody?s={store.id}").status_code == 404
    assert _count(sessions) == 0


def test_a_removed_influencer_of_two_stores_without_s_is_still_a_404(client, sessions, settings, store):
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", "other-shop.myshopify.com",
                                    access_token="shpat_other")
        directory.add_influencer(session, other, "bob")
        for influencer in session.scalars(select(Influencer).where(Influencer.tracking_key == "bob")):
            influencer.active = False
    assert client.get("/t/bob").status_code == 404  # which shop? the link does not say
    assert _count(sessions) == 0


@pytest.mark.parametrize("status", ["uninstalled", "redacted"])
def test_a_link_into_a_store_that_is_gone_is_a_404(client, sessions, store, status):
    with transaction(sessions) as session:
        session.get(Store, store.id).status = status
    assert client.get("/t/alice").status_code == 404
    assert _count(sessions) == 0


def test_a_link_into_a_store_that_needs_reauthorisation_still_works(client, sessions, store):
    with transaction(sessions) as session:
        session.get(Store, store.id).status = "needs_reauth"
    assert _follow(client).status_code == 302


def test_the_same_tracking_id_in_two_stores_needs_s(client, sessions, settings, store):
    with transaction(sessions) as session:
        other = directory.add_store(session, settings.secret_key, "shopify", "other-shop.myshopify.com",
                                    access_token="shpat_other")
        directory.add_influencer(session, other, "Alice")
        other_id = other.id
    answer = client.get("/t/alice")
    assert answer.status_code == 404 and b"several stores" in answer.data
    assert _count(sessions) == 0

    assert _target(_follow(client, s=str(store.id)))[0] == HOME
    origin, _, query = _target(_follow(client, s=str(other_id)))
    assert origin == "https://other-shop.myshopify.com" and query["ref"] == "Alice"
    assert [c.store_id for c in _clicks(sessions)] == [store.id, other_id]


@pytest.mark.parametrize("s", ["999", "0", "-1", "abc", "1.5", "", "99999999999999999999999", "9999999999",
                               "\u0661"])  # ARABIC-INDIC DIGIT ONE: isdigit() but no store id
def test_an_s_that_names_no_store_is_a_404(client, sessions, store, s):
    # A number too large for the id column used to reach the database and fail there (a 500).
    assert client.get("/t/alice", query_string={"s": s}).status_code == 404
    assert _count(sessions) == 0


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(to=st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=80),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=60).map(lambda t: "/" + t),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=60).map(lambda t: "//" + t),
    st.builds(lambda a, b: f"/{a}?{b}", st.text(max_size=20), st.text(max_size=40)),
    st.sampled_from(["/\\", "/%2F%2Fevil.example", "/..//evil.example", "/@evil.example", "/:evil.example",
                     "/\uff0f\uff0fevil.example", "/\u2028evil", "/\u3000//evil.example", "/?ref=evil"]).map(
        lambda p: p + "x"),
))
def test_whatever_to_says_the_redirect_stays_on_the_store(client, store, to):
    answer = client.get("/t/alice", query_string={"to": to})
    assert answer.status_code == 302
    location = answer.headers["Location"]
    # Exactly the store's origin and then a path: no parser (Python's or a browser's, which also drops
    # tabs and newlines and reads "\" as "/") can find another host in it.
    assert location.startswith(HOME + "/")
    assert not any(c in location for c in "\\\t\r\n ") and location.isascii() and location.isprintable()
    assert urlsplit(location).hostname == "test-shop.myshopify.com"
    query = parse_qs(urlsplit(location).query)
    assert query["ref"] == ["alice"] and len(query["click_id"]) == 1
