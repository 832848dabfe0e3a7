/* Stand-in for Shopify App Bridge (https://cdn.shopify.com/shopifycloud/app-bridge.js), for the browser tests,
   which run without the network. It does for the connector's page what the real one does, no more:

   - window.shopify.config: apiKey from <meta name="shopify-api-key">, shop (Config API,
     https://shopify.dev/docs/api/app-home/apis/authentication-and-data/config-api). The real one learns the
     shop from the admin; here it is the ?shop= of the first load (kept for the session).
   - shopify.idToken(): a Promise of a fresh session token (ID Token API,
     https://shopify.dev/docs/api/app-home/apis/id-token). The test exposes window.__standinIdToken (Playwright's
     expose_function), which signs a real HS256 token in Python.
   - fetch(): same-origin requests get "Authorization: Bearer <fresh token>", other origins nothing (Resource
     Fetching API, https://shopify.dev/docs/api/app-home/apis/authentication-and-data/resource-fetching-api).
   - shopify.toast.show(message, {isError, duration}) / hide(id) (Toast API,
     https://shopify.dev/docs/api/app-home/apis/user-interface-and-interactions/toast-api): a visible
     role=status element; every toast is also kept in window.__toasts.
   - the save bar (https://shopify.dev/docs/api/app-home/app-bridge-web-components/save-bar and the Save Bar API):
     a <form data-save-bar> shows a bar with Save and Discard when one of its inputs differs from its initial
     value; Save = form.requestSubmit(), Discard = form.reset() (after a confirmation step when the form has
     data-discard-confirmation); the bar hides when the form is submitted or reset. shopify.saveBar.show /
     hide / toggle(id) drive the same bar. window.__saveBar = {visible, shown} records it.

   It fires no event of its own (no shopify:navigate: the tests dispatch that, as the admin's nav would). */
(() => {
  "use strict";
  const meta = document.querySelector('meta[name="shopify-api-key"]');
  const named = new URLSearchParams(location.search).get("shop");
  if (named) sessionStorage.setItem("standin-shop", named);
  const shop = named || sessionStorage.getItem("standin-shop");

  function idToken() {
    if (typeof window.__standinIdToken !== "function") return Promise.reject(new Error("no __standinIdToken"));
    return Promise.resolve(window.__standinIdToken());
  }

  // ---- fetch ------------------------------------------------------------------------------------------------
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (url.origin !== location.origin) return realFetch(input, init);
    const headers = new Headers(init.headers || (input instanceof Request ? input.headers : undefined));
    headers.set("Authorization", `Bearer ${await idToken()}`);
    return realFetch(input, {...init, headers});
  };

  // ---- toasts -------------------------------------------------------------------------------------------------
  window.__toasts = [];
  let toastId = 0;
  const toastBox = document.createElement("div");
  toastBox.setAttribute("data-standin", "toasts");
  toastBox.style.cssText = "position:fixed;left:50%;bottom:24px;transform:translateX(-50%);z-index:1000;"
    + "display:flex;flex-direction:column;gap:8px;align-items:center;max-width:calc(100vw - 32px)";

  function showToast(message, options = {}) {
    const id = `toast-${++toastId}`;
    const el = document.createElement("div");
    el.id = id;
    el.setAttribute("role", options.isError ? "alert" : "status");
    el.setAttribute("data-error", options.isError ? "true" : "false");
    el.textContent = message;
    el.style.cssText = "padding:10px 16px;border-radius:10px;font:550 14px/20px system-ui,sans-serif;color:#fff;"
      + `background:${options.isError ? "#c70a24" : "#303030"};box-shadow:0 4px 12px rgba(0,0,0,.25)`;
    toastBox.append(el);
    window.__toasts.push({id, message, isError: Boolean(options.isError)});
    setTimeout(() => el.remove(), options.duration || 5000);
    return id;
  }

  // ---- the save bar -------------------------------------------------------------------------------------------
  window.__saveBar = {visible: false, shown: 0};
  const bar = document.createElement("div");
  bar.setAttribute("data-standin", "save-bar");
  bar.setAttribute("role", "region");
  bar.setAttribute("aria-label", "Unsaved changes");
  bar.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:999;display:none;align-items:center;gap:8px;"
    + "padding:8px 16px;background:#1a1a1a;color:#fff;font:550 14px/20px system-ui,sans-serif";
  let barForm = null;

  function drawBar(confirming) {
    const button = (label, primary, action) => {
      const el = document.createElement("button");
      el.type = "button";
      el.textContent = label;
      el.style.cssText = `padding:4px 12px;border-radius:8px;border:0;font:inherit;cursor:pointer;${primary ? "background:#fff;color:#1a1a1a" : "background:#4a4a4a;color:#fff"}`;
      el.addEventListener("click", action);
      return el;
    };
    const text = document.createElement("span");
    text.style.flex = "1";
    text.textContent = confirming ? "Discard all unsaved changes?" : "Unsaved changes";
    const discard = () => { hideBar(); if (barForm) barForm.reset(); };
    bar.replaceChildren(text, ...(confirming
      ? [button("Continue editing", false, () => drawBar(false)), button("Discard changes", true, discard)]
      : [button("Discard", false, () => (barForm && barForm.hasAttribute("data-discard-confirmation") ? drawBar(true) : discard())),
        button("Save", true, () => barForm && barForm.requestSubmit())]));
  }

  function showBar(form) {
    barForm = form || barForm;
    // Drawn once per showing: redrawn on every change, a click on Save that blurs a field (a change event)
    // would land on a button that is gone.
    if (window.__saveBar.visible) return;
    window.__saveBar.shown += 1;
    drawBar(false);
    bar.style.display = "flex";
    // The admin shows its bar above the app's frame, never over it: the page moves down by its height.
    document.body.style.paddingTop = `${bar.offsetHeight}px`;
    window.__saveBar.visible = true;
  }

  function hideBar() {
    bar.style.display = "none";
    document.body.style.paddingTop = "";
    window.__saveBar.visible = false;
  }

  /* Whether any control of the form differs from its initial value (what a reset would put back). */
  function dirty(form) {
    return Array.from(form.elements).some((el) => {
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.localName === "select") return Array.from(el.options).some((o) => o.selected !== o.defaultSelected);
      return "defaultValue" in el && el.value !== el.defaultValue;
    });
  }

  function watch(event) {
    const form = event.target.form || event.target.closest && event.target.closest("form");
    if (!form || !form.hasAttribute("data-save-bar")) return;
    if (dirty(form)) showBar(form);
    else if (barForm === form) hideBar();
  }
  document.addEventListener("input", watch, true);
  document.addEventListener("change", watch, true);
  for (const type of ["submit", "reset"]) {
    document.addEventListener(type, (event) => {
      if (event.target.hasAttribute && event.target.hasAttribute("data-save-bar")) hideBar();
    });
  }

  const saveBar = {
    show: async (id) => showBar(null, id),
    hide: async () => hideBar(),
    toggle: async () => (window.__saveBar.visible ? hideBar() : showBar(null)),
    leaveConfirmation: async () => undefined,
  };

  window.shopify = {
    config: {apiKey: meta ? meta.content : null, shop, locale: "en"},
    idToken,
    toast: {show: showToast, hide: (id) => { const el = document.getElementById(id); if (el) el.remove(); }},
    saveBar,
  };

  // App Bridge's script runs in <head>, before there is a body: the bar and the toasts go in once there is.
  const mount = () => document.body.append(bar, toastBox);
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
