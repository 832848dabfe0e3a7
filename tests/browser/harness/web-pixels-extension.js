// Stand-in for "@shopify/web-pixels-extension" in the browser tests (mapped by an import map in
// pixel.html). It offers the part of Shopify's Standard API the connector's pixel uses, shaped as
// shopify.dev documents it: analytics.subscribe, browser.cookie.get/set (on this page's
// document.cookie, as Shopify's run on the top frame's), browser.localStorage/sessionStorage (async),
// browser.sendBeacon, init {context, data {customer, cart, shop}}, settings.
//
// The test configures it with window.__pixelConfig = {settings, customer, shop} (an init script) and
// fires events with window.__pixel.pageViewed(href) / checkoutCompleted(href, checkout) /
// publish(name, href, data). Each returns a promise that settles once every handler has finished;
// handler failures (a pixel that throws) are collected in window.__pixel.errors.

const config = window.__pixelConfig || {};
const handlers = {};
let seq = 0;

function locationOf(href) {
  const url = new URL(href, window.location.href);
  return {
    hash: url.hash,
    host: url.host,
    hostname: url.hostname,
    href: url.href,
    origin: url.origin,
    pathname: url.pathname,
    port: url.port,
    protocol: url.protocol,
    search: url.search,
  };
}

function contextOf(href) {
  const location = locationOf(href);
  return {
    document: {location, referrer: "", characterSet: "UTF-8", title: document.title},
    navigator: {cookieEnabled: true, language: "en-US", languages: ["en-US"], userAgent: navigator.userAgent},
    window: {
      location,
      origin: location.origin,
      innerHeight: window.innerHeight,
      innerWidth: window.innerWidth,
      outerHeight: window.outerHeight,
      outerWidth: window.outerWidth,
      pageXOffset: 0,
      pageYOffset: 0,
      screenX: 0,
      screenY: 0,
      scrollX: 0,
      scrollY: 0,
      screen: {height: window.screen.height, width: window.screen.width},
    },
  };
}

function cookieGet(name) {
  const pairs = document.cookie ? document.cookie.split("; ") : [];
  if (!name) return Promise.resolve(document.cookie);
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (pair.slice(0, at) === name) return Promise.resolve(pair.slice(at + 1));
  }
  return Promise.resolve("");
}

// Shopify: set("key=value; attributes") or set(name, value).
function cookieSet(cookieOrName, value) {
  document.cookie = value === undefined ? cookieOrName : `${cookieOrName}=${value}`;
  return Promise.resolve(document.cookie);
}

function asyncStorage(storage) {
  return {
    getItem: async (key) => storage.getItem(key),
    setItem: async (key, value) => storage.setItem(key, value),
    removeItem: async (key) => storage.removeItem(key),
    key: async (index) => storage.key(index),
    length: async () => storage.length,
    clear: async () => storage.clear(),
  };
}

const api = {
  analytics: {
    subscribe(name, handler) {
      (handlers[name] = handlers[name] || []).push(handler);
    },
  },
  browser: {
    cookie: {get: cookieGet, set: cookieSet},
    localStorage: asyncStorage(window.localStorage),
    sessionStorage: asyncStorage(window.sessionStorage),
    sendBeacon: async (url, body) => navigator.sendBeacon(url, body),
  },
  init: {
    context: contextOf(window.location.href),
    data: {
      customer: config.customer || null,
      cart: null,
      shop: config.shop || {name: "Test shop", myShopifyDomain: "test-shop.myshopify.com", countryCode: "US",
        storefrontUrl: window.location.origin, paymentSettings: {currencyCode: "EUR"}},
    },
    customerPrivacy: {analyticsProcessingAllowed: true, marketingAllowed: true, preferencesProcessingAllowed: true,
      saleOfDataAllowed: true},
  },
  settings: config.settings || {},
  customerPrivacy: {subscribe() {}},
};

const harness = {
  registered: 0,
  errors: [],
  async publish(name, href, data) {
    seq += 1;
    const event = {
      id: `evt-${seq}`,
      clientId: "client-1",
      name,
      seq,
      timestamp: new Date().toISOString(),
      type: "standard",
      context: contextOf(href),
      data,
    };
    const results = await Promise.allSettled(
      (handlers[name] || []).map((handler) => Promise.resolve().then(() => handler(event))));
    for (const result of results) {
      if (result.status === "rejected") {
        harness.errors.push(String((result.reason && result.reason.stack) || result.reason));
      }
    }
    return (handlers[name] || []).length;
  },
  pageViewed(href) {
    return harness.publish("page_viewed", href, {});
  },
  checkoutCompleted(href, checkout) {
    return harness.publish("checkout_completed", href, {checkout});
  },
};
window.__pixel = harness;

export function register(extend) {
  harness.registered += 1;
  extend(api);
}
