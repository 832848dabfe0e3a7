// A tracking backend's receiver for the connector, in JavaScript (Node 18+), with the official Standard Webhooks
// library:
//
//     npm install standardwebhooks
//     TRACKING_BACKEND_SECRET=whsec_... PORT=8080 node receiver.mjs
//
// Every body the connector POSTs (conversions, and the events CONNECTOR_BACKEND_EVENTS turns on) is verified
// before it is read; `webhook-id` is the idempotency key, the same on every retry.
// tests/test_backend_events_receivers.py runs this very file.

import http from "node:http";
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.TRACKING_BACKEND_SECRET); // "whsec_…", the connector's secret
const seen = new Set(); // the webhook-ids already handled: a unique column in a real backend

function answer(response, status, body) {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    let message;
    try {
      // The raw bytes, exactly as sent: a body parsed and serialised again would not verify.
      message = webhook.verify(Buffer.concat(chunks), request.headers);
    } catch (error) {
      return answer(response, 401, { error: "bad signature" });
    }
    const id = request.headers["webhook-id"];
    if (seen.has(id)) return answer(response, 200, { ok: true, duplicate: true }); // a retry: 2xx, or it comes again
    seen.add(id);
    const { type, data } = message;
    if (type.startsWith("conversion.")) {
      // credit data.credits with data.amount data.currency; refunds name data.reverses
    } else if (type === "customer.redacted") {
      // erase what you hold of data.customer_id / data.email_sha256 in data.store
    } // ... store.installed, code.created, and the rest: see the OpenAPI document's `webhooks`
    console.log(JSON.stringify({ verified: type, id, store: data.store }));
    return answer(response, 200, { ok: true });
  });
}).listen(Number(process.env.PORT || 8080), "127.0.0.1");
