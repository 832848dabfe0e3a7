"""A tracking backend's receiver for the connector, in Python, with the official Standard Webhooks library.

    pip install standardwebhooks flask
    TRACKING_BACKEND_SECRET=whsec_... PORT=8080 python receiver.py

Every body the connector POSTs (conversions, and the events CONNECTOR_BACKEND_EVENTS turns on) is verified
before it is read; `webhook-id` is the idempotency key, the same on every retry. tests/test_backend_events_receivers.py
runs this very file.
"""

import json
import logging
import os

from flask import Flask, request
from standardwebhooks import Webhook, WebhookVerificationError

logging.basicConfig(level=logging.INFO, format="%(message)s")  # one whole line per message, whatever the thread
log = logging.getLogger("receiver")
app = Flask(__name__)
webhook = Webhook(os.environ["TRACKING_BACKEND_SECRET"])  # "whsec_…", the connector's TRACKING_BACKEND_SECRET
seen = set()  # the webhook-ids already handled: a unique column in a real backend


@app.post("/connector")
def receive():
    try:
        # The raw bytes, exactly as sent: a body parsed and serialised again would not verify.
        message = webhook.verify(request.get_data(), dict(request.headers))
    except WebhookVerificationError:
        return {"error": "bad signature"}, 401
    if request.headers["webhook-id"] in seen:
        return {"ok": True, "duplicate": True}, 200  # a retry of something handled: 2xx, or it comes again
    seen.add(request.headers["webhook-id"])
    kind, data = message["type"], message["data"]
    if kind.startswith("conversion."):
        pass  # credit data["credits"] with data["amount"] data["currency"]; refunds name data["reverses"]
    elif kind == "customer.redacted":
        pass  # erase what you hold of data["customer_id"] / data["email_sha256"] in data["store"]
    # ... store.installed, code.created, and the rest: see the OpenAPI document's `webhooks`
    log.info(json.dumps({"verified": kind, "id": request.headers["webhook-id"], "store": data["store"]}))
    return {"ok": True}, 200


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8080")))
