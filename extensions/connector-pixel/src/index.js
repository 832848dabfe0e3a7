// The connector's Shopify web pixel. Keeps an influencer's `ref` and `click_id` from landing URLs in
// the first-party cookie _cnx_touches (same format and rules as the WooCommerce storefront script,
// connector/web/static/storefront.js) and reports them to the connector: with the order on
// checkout_completed (proof: the checkout token, which the order webhook carries as checkout_token),
// and once per logged-in customer as a sign-up. It runs in Shopify's strict sandbox: no DOM, only the
// Standard API. Nothing in it may throw.
import {register} from "@shopify/web-pixels-extension";

const COOKIE = "_cnx_touches";
const SIGNUP_KEY = "_cnx_signup_reported";
const MAX_TOUCHES = 5;
const DAY_MS = 86400000;

// What the connector accepts (connector/campaigns/reports.py): a touch it cannot take would void the whole report.
const ok = (value) => typeof value === "string" && value.length > 0 && value.length <= 64;
const okRef = (value) => typeof value === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(value);

function windowDays(settings) {
  const days = parseInt(settings && settings.windowDays, 10);
  return days > 0 && days <= 365 ? days : 30;
}

/** The touches in the cookie value, valid and within the window, oldest first, at most five. */
function parseTouches(raw, days) {
  try {
    if (!raw) return [];
    const list = JSON.parse(decodeURIComponent(raw));
    if (!Array.isArray(list)) return [];
    const oldest = Date.now() - days * DAY_MS;
    return list
      .filter((t) => t && okRef(t.ref) && (t.click_id === null || ok(t.click_id)) && ok(t.at) &&
        Date.parse(t.at) > oldest)
      .map((t) => ({ref: t.ref, click_id: t.click_id, at: t.at}))
      .slice(-MAX_TOUCHES);
  } catch (e) {
    return [];
  }
}

/** The page's query and protocol from event.context.document.location (search, else href). */
function pageOf(location) {
  if (!location) return null;
  if (typeof location.search === "string" && location.search) {
    return {query: new URLSearchParams(location.search), https: location.protocol === "https:"};
  }
  if (typeof location.href === "string" && location.href) {
    const url = new URL(location.href);
    return {query: url.searchParams, https: url.protocol === "https:"};
  }
  return null;
}

async function sha256Hex(text) {
  try {
    const subtle = typeof crypto !== "undefined" && crypto.subtle;
    if (!subtle || typeof TextEncoder === "undefined") return null;
    const digest = await subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  } catch (e) {
    return null;
  }
}

register(({analytics, browser, init, settings}) => {
  try {
    const endpoint = String((settings && settings.endpoint) || "").trim().replace(/\/+$/, "");
    if (!/^https?:\/\/[^\s/]+/.test(endpoint)) return;
    const url = endpoint + "/storefront/events";
    const data = (init && init.data) || {};
    const store = String((settings && settings.store) || (data.shop && data.shop.myShopifyDomain) || "");
    if (!store) return;
    const days = windowDays(settings);

    const send = async (report) => {
      try {
        const body = JSON.stringify(report);
        if (typeof fetch === "function") {
          await fetch(url, {
            method: "POST",
            body,
            keepalive: true,
            headers: {"Content-Type": "text/plain"},
            mode: "cors",
            credentials: "omit",
          });
        } else if (browser && browser.sendBeacon) {
          await browser.sendBeacon(url, body);
        }
      } catch (e) {
        // the connector answers 202 or not at all as far as the shopper is concerned
      }
    };

    const readTouches = async () => {
      try {
        return parseTouches(await browser.cookie.get(COOKIE), days);
      } catch (e) {
        return [];
      }
    };

    const writeTouches = async (touches, https) => {
      const value = encodeURIComponent(JSON.stringify(touches));
      const attributes = `; path=/; max-age=${days * 86400}; SameSite=Lax${https ? "; Secure" : ""}`;
      await browser.cookie.set(`${COOKIE}=${value}${attributes}`);
    };

    // A logged-in customer who came through a tracking link: reported once per customer (a lead, if the
    // connector sees that customer created).
    const reportSignup = async (touches) => {
      const customer = data.customer;
      const id = customer && customer.id != null ? String(customer.id) : "";
      if (!id || !touches.length) return;
      const done = await browser.localStorage.getItem(SIGNUP_KEY);
      if (done === id) return;
      await browser.localStorage.setItem(SIGNUP_KEY, id);
      const email = customer.email ? await sha256Hex(String(customer.email).trim().toLowerCase()) : null;
      await send({v: 1, store, kind: "signup", customer_id: id, email_sha256: email, touches});
    };

    analytics.subscribe("page_viewed", async (event) => {
      try {
        const page = pageOf(event && event.context && event.context.document && event.context.document.location);
        let touches = await readTouches();
        const ref = page ? (page.query.get("ref") || "").trim() : "";
        if (okRef(ref)) {
          const click = (page.query.get("click_id") || "").trim();
          const touch = {ref, click_id: ok(click) ? click : null, at: new Date().toISOString().replace(/\.\d+Z$/, "Z")};
          touches = touches
            .filter((t) => t.ref !== touch.ref || t.click_id !== touch.click_id)
            .concat([touch])
            .slice(-MAX_TOUCHES);
          await writeTouches(touches, page.https);
        }
        await reportSignup(touches);
      } catch (e) {
        // never into the storefront
      }
    });

    analytics.subscribe("checkout_completed", async (event) => {
      try {
        const checkout = event && event.data && event.data.checkout;
        const orderId = checkout && checkout.order && checkout.order.id;
        const token = checkout && checkout.token;
        if (orderId == null || orderId === "" || !token) return;
        const touches = await readTouches();
        if (!touches.length) return;
        await send({v: 1, store, kind: "purchase", order_id: String(orderId), proof: String(token), touches});
      } catch (e) {
        // never into the checkout
      }
    });
  } catch (e) {
    // a pixel that cannot start stays quiet
  }
});
