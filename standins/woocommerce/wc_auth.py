"""The WooCommerce stand-in's wc-auth endpoint: the app authorisation, approved at once as if a shop manager were
logged in; the new keys are POSTed to the app's callback_url and kept only if it answers 200 (PLATFORMS.md B1).

Unlike WooCommerce it accepts a plain-http callback_url; each one is recorded so tests can look.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import requests
from flask import redirect, request

from standins.woocommerce.sites import Site, Sites
from standins.woocommerce.wordpress import error_page, is_web_url

AUTH_PARAMS = ("app_name", "scope", "user_id", "return_url", "callback_url")
SCOPES = ("read", "write", "read_write")


def authorize(sites: Sites, site: Site):
    """GET /wc-auth/v1/authorize: keys made and sent to callback_url, then back to return_url."""
    args = request.args
    missing = [name for name in AUTH_PARAMS if not args.get(name)]
    if missing:
        return error_page(400, f"Missing parameter {missing[0]}")
    if args["scope"] not in SCOPES:
        return error_page(400, "Invalid scope")
    urls = {name: args[name] if "://" in args[name] else "https://" + args[name] for name in ("return_url", "callback_url")}
    bad = [name for name, url in urls.items() if not is_web_url(url)]
    if bad:
        return error_page(400, f"The {bad[0]} is not a valid URL")
    with sites.lock:
        site.callback_urls.append(urls["callback_url"])
        consumer_key, consumer_secret = site.add_keys(args["scope"])
    payload = {"key_id": sites.new_id(), "user_id": args["user_id"], "consumer_key": consumer_key,
               "consumer_secret": consumer_secret, "key_permissions": args["scope"]}
    try:
        answer = requests.post(urls["callback_url"], data=json.dumps(payload), timeout=60, allow_redirects=False,
                               headers={"Content-Type": "application/json;charset=UTF-8"})
        accepted = answer.status_code == 200
    except requests.RequestException:
        accepted = False
    if not accepted:  # WooCommerce deletes the keys the app did not take
        with sites.lock:
            site.keys.pop(consumer_key, None)
        return error_page(401, "An error occurred in the request and at the time were unable to send the consumer data")
    separator = "&" if "?" in urls["return_url"] else "?"
    return redirect(urls["return_url"] + separator + urlencode({"success": "1", "user_id": args["user_id"]}), 302)
