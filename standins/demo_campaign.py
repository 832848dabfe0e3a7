"""The demo's campaign part: the backend registers influencers through /api/v1, the worker makes their codes
in the stores, and a shopper's click travels to a credited conversion with its attribution record.

Everything goes over real HTTP, as it would in production: the backend calls the API with its bearer
token, the shopper's browser follows the tracking link and the web pixel posts its report.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

import click
import requests

from standins.waiting import wait_until

CAMPAIGN = "spring-26"


def _line(text: str, ok: bool | None = None) -> None:
    mark = {True: click.style("✓", fg="green"), False: click.style("✗", fg="red"), None: " "}[ok]
    click.echo(f"   {mark} {text}")


class Api:
    """The tracking backend's side of /api/v1."""

    def __init__(self, app_url: str, token: str):
        self.base, self.http = f"{app_url}/api/v1", requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.base + path, timeout=20, **kwargs)


def register(api: Api, shop_id: int, woo_id: int) -> bool:
    """One campaign per store; influencers in one batch call per store, each with their discount."""
    ok = True
    for store_id in (shop_id, woo_id):
        answer = api.call("PUT", f"/stores/{store_id}/campaigns/{CAMPAIGN}", json={"name": "Spring 2026"})
        ok &= answer.status_code in (200, 201)
    people = {
        shop_id: [("alice", "ALICE15", "15"), ("bob", None, None), ("carol", "CAROL10", "10")],
        woo_id: [("dana", "DANA20", "20")],
    }
    for store_id, entries in people.items():
        batch = [{"tracking_id": tid, "campaign_id": CAMPAIGN, "email": f"{tid}@creators.example",
                  "promo_code": code, "discount": {"type": "percentage", "value": off} if code else None}
                 for tid, code, off in entries]
        answer = api.call("POST", f"/stores/{store_id}/influencers/batch", json={"influencers": batch})
        results = answer.json().get("results", []) if answer.ok else []
        for result in results:
            code = result.get("influencer", {}).get("promo_code", {})
            _line(f"PUT {result['tracking_id']:<6} → {result['outcome']}; code {code.get('requested') or '-':<8} "
                  f"{code.get('status')}", result["outcome"] == "created")
        ok &= answer.status_code == 200 and all(r["outcome"] == "created" for r in results)
    return ok


def wait_for_codes(api: Api, stores: dict[int, list[str]], in_store: Callable[[int, str], bool], *,
                   working: Callable[[], bool] = lambda: True) -> bool:
    """The worker creates the codes in the stores (in bulk); the API shows them active when it is done.

    Waits as long as the codes are being made (up to waiting.LIMIT), then shows every code: made or not.
    """
    wanted = sorted((store_id, tracking_id) for store_id, ids in stores.items() for tracking_id in ids)
    shown: dict[tuple[int, str], dict] = {}

    def all_settled() -> bool:
        for key in wanted:
            if shown.get(key, {}).get("status") not in ("active", "failed"):
                shown[key] = api.call("GET", f"/stores/{key[0]}/influencers/{key[1]}").json()["promo_code"]
        return all(shown[key]["status"] in ("active", "failed") for key in wanted)

    waited = wait_until(all_settled, "the worker to make the codes in the stores", working=working)
    ok = waited.done
    for store_id, tracking_id in wanted:
        code = shown.get((store_id, tracking_id), {})
        there = code.get("status") == "active" and in_store(store_id, code["code"])
        _line(f"{tracking_id:<6} code {code.get('code') or '-':<8} {code.get('status')} in the store (seen in the "
              f"stand-in: {'yes' if there else 'no'})", there)
        ok &= there
    if waited.done:
        _line(f"all {len(wanted)} codes settled after {waited.seconds:.1f} s", True)
    else:
        _line(waited.reason, False)
    return ok


def click_journey(app_url: str, api: Api, standin, samples, shop: str, shop_id: int, order_id: int) -> bool:
    """Link → click → landing with ref → the pixel's purchase report → the order webhook → credited by click."""
    shopper = requests.Session()
    landing = shopper.get(f"{app_url}/t/bob", params={"s": shop_id, "to": "/products/wool-scarf"},
                          allow_redirects=False, timeout=10)
    target = landing.headers.get("Location", "")
    click_id = requests.utils.urlparse(target).query.split("click_id=")[-1] if "click_id=" in target else None
    ok = landing.status_code == 302 and "ref=bob" in target and click_id is not None
    _line(f"shopper opens {app_url}/t/bob?to=/products/wool-scarf → {landing.status_code} {target}", ok)

    token = f"demo-checkout-{order_id}"
    report = {"v": 1, "store": shop, "kind": "purchase", "order_id": str(order_id), "proof": token,
              "touches": [{"ref": "bob", "click_id": click_id,
                           "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}]}
    answer = shopper.post(f"{app_url}/storefront/events", json=report, headers={"Origin": f"https://{shop}"},
                          timeout=10)
    ok &= answer.status_code == 202
    _line(f"checkout_completed: the web pixel reports order {order_id}, its checkout token and the touch "
          f"→ {answer.status_code}", answer.status_code == 202)
    order = samples.order(order_id=order_id, name="#1002", codes=(), cart_ref="",
                          landing_site=f"/products/wool-scarf?ref=bob&click_id={click_id}", landing_site_ref="")
    order["checkout_token"] = token
    placed = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    order["created_at"] = order["processed_at"] = order["updated_at"] = placed  # just now, after the click
    statuses = [status for status, _ in standin.place_order(shop, order, topics=("orders/paid",))]
    delivered = bool(statuses) and all(status == 200 for status in statuses)
    _line(f"#1002 paid with no code: orders/paid → {', '.join(map(str, statuses))}", delivered)
    return ok and delivered


def show_record(api: Api, shop_id: int, order_id: int, *, working: Callable[[], bool] = lambda: True) -> bool:
    """The attribution record, as the backend reads it: every signal, the winner, why the others lost."""
    found: dict = {}

    def credited() -> bool:
        answer = api.call("GET", f"/stores/{shop_id}/orders/{order_id}/attribution")
        if answer.status_code == 200 and answer.json()["purchase_conversion_id"]:
            found.update(answer.json())
        return bool(found)

    waited = wait_until(credited, f"order {order_id} to be credited", working=working)
    if not waited.done:
        _line(f"no attribution record for {order_id}: {waited.reason}", False)
        return False
    record = found
    ok = record["method"] == "click" and record["credits"][0]["tracking_id"] == "bob"
    _line(f"GET /api/v1/stores/{shop_id}/orders/{order_id}/attribution: {record['outcome']} by {record['method']}, "
          f"credits {', '.join(c['tracking_id'] + ' ' + c['share'] for c in record['credits'])}", ok)
    for signal in record["signals"]:
        _line(f"    {signal['status']:<6} {signal['kind']:<12} {signal['source']:<18} {signal['value'] or '-':<6} "
              f"{signal['reason']}")
    for report in record["reports"]:
        _line(f"    report {report['id']}: {report['status']} ({report['touches']} touch)")
    return ok
