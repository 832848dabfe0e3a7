/* Connector storefront script (WooCommerce): keeps ?ref=&click_id= touches in the cookie _cnx_touches,
   reports them with the order (order-received page) or a sign-up (email hash). Never throws. */
(() => {
try {
  if (window.__cnx) return;
  window.__cnx = 1;
  const d = document, l = location, N = 5;
  let me = d.currentScript;
  if (!me) { const s = d.querySelectorAll('script[src*="storefront.js"]'); me = s[s.length - 1]; }
  const url = new URL(me.src, l.href).origin + "/storefront/events";
  const store = me.getAttribute("data-store") || l.origin;
  let days = parseInt(me.getAttribute("data-window-days"), 10);
  if (!(days > 0 && days <= 365)) days = 30;
  const ok = (v) => typeof v == "string" && v.length > 0 && v.length <= 64;  // the connector's limits
  const okRef = (v) => typeof v == "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(v);
  const read = () => {
    try {
      const m = d.cookie.match(/(?:^|;\s*)_cnx_touches=([^;]*)/), a = m ? JSON.parse(decodeURIComponent(m[1])) : [];
      return (Array.isArray(a) ? a : []).filter((t) => t && okRef(t.ref) &&
        (t.click_id === null || ok(t.click_id)) && ok(t.at) && Date.parse(t.at) > Date.now() - days * 864e5)
        .map((t) => ({ref: t.ref, click_id: t.click_id, at: t.at})).slice(-N);
    } catch (e) { return []; }
  };
  const post = (report, beacon) => {
    const body = JSON.stringify(report);
    try { if (beacon && navigator.sendBeacon(url, body)) return; } catch (e) { /* fetch */ }
    try {
      fetch(url, {method: "POST", body, keepalive: true, headers: {"Content-Type": "text/plain"},
        mode: "cors", credentials: "omit"}).catch(() => {});
    } catch (e) { /* nothing */ }
  };
  const q = new URLSearchParams(l.search), ref = (q.get("ref") || "").trim();
  if (okRef(ref)) {
    const c = (q.get("click_id") || "").trim();
    const t = {ref, click_id: ok(c) ? c : null, at: new Date().toISOString().replace(/\.\d+Z$/, "Z")};
    const a = read().filter((x) => x.ref != t.ref || x.click_id != t.click_id).concat([t]).slice(-N);
    d.cookie = "_cnx_touches=" + encodeURIComponent(JSON.stringify(a)) + "; path=/; max-age=" + days * 86400 +
      "; SameSite=Lax" + (l.protocol == "https:" ? "; Secure" : "");
  }
  const p = l.pathname.match(/\/order-received\/(\d+)(\/|$)/), id = (p && p[1]) || q.get("order-received") || "";
  const key = q.get("key") || "", touches = read();
  if (/^\d+$/.test(id) && ok(key) && touches.length) {
    let seen = 0;
    try { seen = sessionStorage.getItem("_cnx_" + id); sessionStorage.setItem("_cnx_" + id, 1); } catch (e) { }
    if (!seen) post({v: 1, store, kind: "purchase", order_id: id, proof: key, touches});
  }
  const S = window.crypto && crypto.subtle;
  let h = {};
  const hash = (v) => h.v === v ? h.p : (h = {v, p: S.digest("SHA-256", new TextEncoder().encode(v))
    .then((b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join(""))}).p;
  const email = (f) => {
    const i = S && f && f.matches && f.matches("form.woocommerce-form-register, form.register") &&
      f.querySelector('input[type="email"], input[name="email"]');
    return i && typeof i.value == "string" ? i.value.trim().toLowerCase() : "";
  };
  const on = (type, fn) => d.addEventListener(type, (e) => { try { fn(e.target); } catch (x) { } }, true);
  on("change", (t) => { const v = email(t && t.form); if (v) hash(v).catch(() => {}); });
  on("submit", (f) => {
    const v = email(f), a = read();
    if (v && a.length) hash(v).then((x) => post({v: 1, store, kind: "signup", customer_id: null,
      email_sha256: x, touches: a}, 1)).catch(() => {});
  });
} catch (e) { }
})();
