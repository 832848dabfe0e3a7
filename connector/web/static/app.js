/* The connector's page in the Shopify admin, part 1 of 4: the router, the API client and the DOM helpers
   every view uses. The views register themselves on window.Connector.views (app-views.js, app-why.js, app-ops.js);
   the router starts at DOMContentLoaded, which waits for every deferred script of the document.

   Every text from the server goes in as text: h() sets attributes with setAttribute and children as text
   nodes, nothing is parsed as HTML. The one exception is the overview's chart_svg, which the server draws
   and escapes itself (app-views.js). App Bridge adds the session token to our same-origin fetches. */
(() => {
  "use strict";
  const main = document.getElementById("app");
  const BASE = main.dataset.base.replace(/\/+$/, "");
  const API = main.dataset.api;
  const LOCALE = (window.shopify && shopify.config && shopify.config.locale) || navigator.language || "en";
  const C = (window.Connector = {views: {}, base: BASE});

  /* h("s-badge", {tone: "success"}, "Done"). Keys starting with "on" holding a function are listeners;
     null, undefined and false leave an attribute out, true sets it empty. */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    return add(el, children);
  }

  function add(el, children) {
    for (const child of [children].flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  // ---- values as the merchant reads them --------------------------------------------------------------

  function amount(value, currency) {
    if (value === null || value === undefined) return "—";
    try {
      return new Intl.NumberFormat(LOCALE, {style: "currency", currency}).format(Number(value));
    } catch (e) {  // a currency code Intl does not know: the plain figures, still readable
      return `${value} ${currency || ""}`.trim();
    }
  }
  const money = (list) => (list && list.length ? list.map((m) => amount(m.amount, m.currency)).join(", ") : "—");
  const percent = (value) => (value === null || value === undefined ? "—" : `${value}%`);
  const number = (value) => new Intl.NumberFormat(LOCALE).format(value || 0);

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    if (isNaN(date)) return String(iso);
    return date.toLocaleString(LOCALE, {dateStyle: "medium", timeStyle: "short"});
  }

  // ---- the API ------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || (status ? `The connector answered ${status}.` :
        "The connector could not be reached. Check the connection and try again."));
      this.status = status;
      this.body = body || {};
      this.field = this.body.field || null;
    }
  }

  async function send(path, init) {
    try {
      return await fetch(API + path, init);
    } catch (e) {
      throw new ApiError(0, null);
    }
  }

  /* JSON in and out. A 401 means the token expired on its way (they live a minute): App Bridge mints a
     fresh one for every fetch, so one retry is enough. A 403 not_installed reloads the document at the
     install URL with a token: that load exchanges it for a new access token. */
  async function api(path, {method = "GET", body} = {}) {
    const init = {method, headers: {Accept: "application/json"}};
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    let response = await send(path, init);
    if (response.status === 401) {
      await shopify.idToken();
      response = await send(path, init);
    }
    const data = await response.json().catch(() => null);
    if (response.status === 403 && data && data.error === "not_installed") return reinstall(data);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  async function reinstall(data) {
    const url = String(data.reinstall_url || "");
    if (!url.startsWith("/") || url.startsWith("//")) throw new ApiError(403, data);  // our own origin only
    const token = await shopify.idToken();
    location.assign(`${url}&id_token=${encodeURIComponent(token)}`);
    return new Promise(() => {});  // the document is going away: nothing after this should draw
  }

  function toast(message, isError = false) {
    if (window.shopify && shopify.toast) shopify.toast.show(message, {isError});
  }

  // ---- the router -----------------------------------------------------------------------------------------

  let rendering = 0;

  function route() {
    const rest = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
    let parts;
    try {
      parts = rest.split("/").filter(Boolean).map(decodeURIComponent);
    } catch (e) {
      parts = [];
    }
    const name = parts[0] && C.views[parts[0]] ? parts[0] : "";
    return {name, params: name ? parts.slice(1) : []};
  }

  /* Draws the view the address names. A view is a function of a context that returns its s-page at once
     and fills it as its data comes; ctx.alive() turns false when the merchant has moved on, so a late
     answer or a poll never draws over the next view. */
  function render() {
    const {name, params} = route();
    const id = ++rendering;
    const ctx = {params, query: new URLSearchParams(location.search), alive: () => id === rendering, setQuery};
    main.dataset.view = name;
    main.replaceChildren(C.views[name](ctx));
    window.scrollTo(0, 0);
  }

  /* Changes the address of the view on screen (its filter, its page, its search) without drawing it anew. */
  function setQuery(changes) {
    const query = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === "" || value === undefined) query.delete(key);
      else query.set(key, value);
    }
    const search = query.toString();
    history.replaceState(null, "", location.pathname + (search ? `?${search}` : ""));
  }

  const inApp = (url) => url.origin === location.origin && (url.pathname === BASE || url.pathname.startsWith(`${BASE}/`));

  /* Shows the view of an in-app address; false for any other address. Asking for the address already on
     screen draws nothing: Polaris fires both a click and shopify:navigate for one link. */
  function navigate(href) {
    const url = new URL(href, location.href);
    if (!inApp(url)) return false;
    if (url.pathname + url.search === location.pathname + location.search) return true;
    history.pushState(null, "", url.pathname + url.search);
    render();
    return true;
  }

  // App Bridge fires shopify:navigate for the admin's nav items and for Polaris links and buttons with href.
  document.addEventListener("shopify:navigate", (event) => {
    const href = event.target && event.target.getAttribute && event.target.getAttribute("href");
    if (href && navigate(href)) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    const link = event.target.closest("a[href], s-link[href], s-button[href]");
    if (!link) return;
    const target = link.getAttribute("target");
    if (!target && navigate(link.getAttribute("href"))) event.preventDefault();
    else if (target && link.localName !== "a" && !customElements.get(link.localName)) {
      // Without Polaris an s-link is not a link: open it as Polaris would.
      window.open(link.getAttribute("href"), target, "noopener");
    }
  });

  // ---- Polaris pieces -------------------------------------------------------------------------------------

  /* The view's s-page: its heading is the admin's title bar; `back` ({href, label}) is its breadcrumb. */
  function page(heading, back) {
    document.title = `${heading} · Connector`;
    const el = h("s-page", {heading});
    if (back) el.append(h("s-link", {slot: "breadcrumb-actions", href: back.href}, `‹ ${back.label}`));
    return el;
  }
  const badge = (tone, text) => h("s-badge", {tone: tone || "neutral"}, text);
  const subdued = (...children) => h("s-text", {color: "subdued"}, children);
  const strong = (...children) => h("s-text", {type: "strong"}, children);
  const critical = (...children) => h("s-text", {tone: "critical", class: "cnx-error"}, children);
  const paragraph = (...children) => h("s-paragraph", {}, children);
  const empty = (heading, text) => h("div", {class: "cnx-empty"}, h("s-heading", {}, heading), paragraph(subdued(text)));

  /* An s-button; its action does not run again while the button is busy (see busy()). */
  function button(label, action, attrs = {}) {
    const el = h("s-button", attrs, label);
    el.addEventListener("click", (event) => {
      if (!el.hasAttribute("disabled") && !el.hasAttribute("loading")) action(event, el);
    });
    return el;
  }

  async function busy(el, work) {
    el.setAttribute("loading", "");
    try {
      return await work();
    } finally {
      el.removeAttribute("loading");
    }
  }

  function errorBanner(error, retry) {
    const el = h("s-banner", {tone: "critical", heading: "The connector could not do that"}, paragraph(error.message));
    if (retry) el.append(button("Try again", retry, {slot: "secondary-actions"}));
    return el;
  }

  /* A loaded part of a view: "Loading…" at first, then what `draw` returns, or the error in red with a
     retry. Only the latest fill draws (a search typed fast sends several). A bug in our own code shows
     the banner too, and is thrown again so that the console and the tests see it. */
  function slot(ctx) {
    const el = h("div", {class: "cnx-slot"}, subdued("Loading…"));
    let latest = 0;
    async function fill(draw) {
      const mine = ++latest;
      const current = () => mine === latest && ctx.alive();
      el.setAttribute("aria-busy", "true");
      try {
        const content = await draw();
        if (current()) el.replaceChildren(content);
      } catch (error) {
        if (current()) el.replaceChildren(errorBanner(error, () => fill(draw)));
        if (!(error instanceof ApiError)) setTimeout(() => { throw error; });
      } finally {
        if (mine === latest) el.removeAttribute("aria-busy");
      }
    }
    return {el, fill};
  }

  /* columns: [{label, numeric}]; rows: [{cells, href, delegate}] or rows made by tableRow. A row with href opens it when clicked
     (Polaris: clickdelegate names the row's link). Each cell carries its column's label, which the
     phone layout shows beside the value. */
  function table(columns, rows) {
    const head = h("s-table-header-row", {}, columns.map((c) => h("s-table-header", {format: c.numeric ? "numeric" : null}, c.label)));
    return h("div", {class: "cnx-table"}, h("s-table", {}, head, h("s-table-body", {},
      rows.map((r) => (r instanceof Node ? r : tableRow(columns, r))))));
  }

  function tableRow(columns, row) {
    // One div per cell: the phone layout makes the cell a grid of its label and that one value.
    const cells = row.cells.map((cell, i) => h("s-table-cell", {"data-label": columns[i].label,
      class: columns[i].numeric ? "cnx-num" : null}, h("div", {class: "cnx-cell"}, cell)));
    const el = h("s-table-row", {class: row.href ? "cnx-clickable" : null, clickdelegate: row.delegate}, cells);
    if (row.href) {
      el.addEventListener("click", (event) => {
        if (!event.target.closest("a, s-link, s-button, button")) navigate(row.href);
      });
    }
    return el;
  }

  /* "26–50 of 120" and Previous / Next, for a page of a list the server pages. */
  function pager(data, shown, go) {
    if (!data.total) return null;
    const first = (data.page - 1) * data.per_page + 1;
    return h("div", {class: "cnx-pager"},
      subdued(`${number(first)}–${number(first + shown - 1)} of ${number(data.total)}`),
      h("s-stack", {direction: "inline", gap: "small-200"},
        button("Previous", () => go(data.page - 1), {disabled: !data.has_previous}),
        button("Next", () => go(data.page + 1), {disabled: !data.has_next})));
  }

  /* A row of buttons of which one is chosen (a period, a filter): options are [value, label] pairs. */
  function choice(label, options, value, pick) {
    const group = h("div", {class: "cnx-choice", role: "group", "aria-label": label});
    for (const [key, text] of options) {
      const chosen = key === value;
      group.append(button(text, () => pick(key), {variant: chosen ? "primary" : "secondary", "aria-pressed": String(chosen)}));
    }
    return group;
  }

  /* A long address or code as text that may wrap after its / ? & = (a table column then keeps a sane width). */
  function breakable(text) {
    return h("span", {class: "cnx-mono"}, String(text).split(/(?<=[/?&=])/).map((part, i) => (i ? [h("wbr"), part] : part)));
  }

  /* A link out of the app (Shopify admin, docs): only https addresses become links. */
  function external(url, text) {
    let parsed;
    try {
      parsed = new URL(String(url || ""));
    } catch (e) {
      return null;
    }
    if (parsed.protocol !== "https:") return null;
    return h("s-link", {href: parsed.href, target: "_blank"}, text || `Open ${parsed.host}`);
  }

  /* The first load's address carries a session token (?id_token=): the server has used it, and it lives a
     minute; it is not kept in the address bar, the history or a bookmark. */
  window.addEventListener("popstate", render);
  // The document's address keeps what the admin loaded it with (id_token included): Shopify signs that query,
  // so a reload inside the frame must find it whole. The document is sent with Referrer-Policy: no-referrer.
  document.addEventListener("DOMContentLoaded", render);

  Object.assign(C, {h, add, api, ApiError, toast, navigate, amount, money, percent, number, when, page, badge,
    subdued, strong, critical, paragraph, empty, button, busy, errorBanner, slot, table, tableRow, pager, choice, breakable,
    external, href: (path) => BASE + path});
})();
