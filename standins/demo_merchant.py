"""The demo's merchant: opens the app in the (stand-in) Shopify admin and reads what the page reads.

The page is JavaScript in a browser; here its requests are made as App Bridge makes them, each with a
fresh session token, against the same JSON routes.
"""

from __future__ import annotations

import click
import requests

TEST_ORDER = "820982911946154510"


def _line(text: str, ok: bool | None = None) -> None:
    mark = {True: click.style("✓", fg="green"), False: click.style("✗", fg="red"), None: " "}[ok]
    click.echo(f"   {mark} {text}")


def merchant_app(app_url: str, standin, shop: str) -> bool:
    """The app opened from the admin, its onboarding list, the week's figures and why the test order was not credited."""
    opened = requests.get(f"{standin.admin_url.format(shop=shop)}/admin/apps/{standin.api_key}", timeout=10)
    ok = opened.status_code == 200 and 'name="shopify-api-key"' in opened.text
    _line(f"the admin opens the app embedded: {opened.url.split('?')[0]} with a session token → {opened.status_code}",
          ok)

    def get(path: str) -> dict:
        answer = requests.get(f"{app_url}/admin/api/{path}", timeout=10,
                              headers={"Authorization": f"Bearer {standin.session_token(shop)}"})
        answer.raise_for_status()
        return answer.json()

    onboarding = get("onboarding")
    for step in onboarding["steps"]:
        _line(f"{step['title']:<28} {step['state']:<8} {step['detail'][:90]}", step["state"] != "failed")
    week = get("overview?days=7")
    revenue = ", ".join(f"{m['amount']} {m['currency']}" for m in week["revenue"]) or "none"
    _line(f"overview, last 7 days: clicks {week['clicks']}, orders {week['orders']}, revenue {revenue}, orders per "
          f"100 clicks {week['conversion_rate'] or '-'}", week["orders"] >= 3)
    why = get(f"orders/{TEST_ORDER}")
    _line(f"#1003, why: {why['headline']}", why["outcome"] == "test_order")
    unauthorised = requests.get(f"{app_url}/admin/api/orders", timeout=10)
    _line(f"the same routes without a session token → {unauthorised.status_code}", unauthorised.status_code == 401)
    return ok and week["orders"] >= 3 and why["outcome"] == "test_order" and unauthorised.status_code == 401
