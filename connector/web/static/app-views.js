/* The connector's page, part 2 of 4: the views that show what happened. Home (the setup checklist and the
   overview), Influencers and Orders; an order's "why" is app-why.js. Helpers come from app.js (window.Connector). */
(() => {
  "use strict";
  const C = window.Connector;
  const {h, api} = C;

  // ---- Home ------------------------------------------------------------------------------------------------

  const STEP = {done: ["success", "Done"], working: ["info", "In progress"], todo: ["warning", "To do"],
    failed: ["critical", "Failed"]};
  const POLL_MS = 2000;
  let days = 30;  // the period chosen, kept while the page lives: coming back to Home shows the same one

  /* The checklist first; the figures are added below it once it is drawn, so nothing already on screen is
     pushed down when the checklist arrives (a layout shift, which Built for Shopify counts as CLS). */
  C.views[""] = (ctx) => {
    const el = C.page("Home");
    const setup = onboarding(ctx);
    el.append(setup.el);
    setup.drawn.then(() => ctx.alive() && el.append(overview(ctx)));
    return el;
  };

  /* The setup checklist. While the worker is still registering webhooks and the pixel (setup_pending) it
     is asked again every 2 s, so a step turns done on screen without a reload. */
  function onboarding(ctx) {
    const part = C.slot(ctx);
    let timer = null;
    const load = (path, init) => part.fill(async () => {
      const data = await api(path, init);
      clearTimeout(timer);
      if (data.setup_pending) timer = setTimeout(() => ctx.alive() && load("/onboarding"), POLL_MS);
      return checklist(data, (button) => C.busy(button, () => load("/onboarding/check", {method: "POST"})));
    });
    return {el: part.el, drawn: load("/onboarding")};
  }

  /* The steps left to do come first, in full; the ones done fold away, so what needs the merchant stands out. */
  function checklist(data, checkAgain) {
    const open = data.steps.filter((s) => s.state !== "done");
    const done = data.steps.filter((s) => s.state === "done");
    const status = data.store && data.store.status !== "active" ? C.h("s-banner", {tone: "critical",
      heading: "The connector cannot read this store's orders"}, C.paragraph(data.store.status_reason || data.store.status)) : null;
    const summary = h("div", {class: "cnx-step-summary"},
      C.subdued(`${done.length} of ${data.steps.length} steps done`, data.setup_pending ? " · checking with Shopify…" : ""),
      C.button("Check again", (_e, button) => checkAgain(button)));
    const folded = done.length ? h("details", {class: "cnx-details"},
      h("summary", {}, done.length === 1 ? "Show the step that is done" : `Show the ${done.length} steps that are done`),
      h("ol", {class: "cnx-steps"}, done.map(step))) : null;
    if (data.complete) {
      return h("s-section", {heading: "Setup"}, status, h("s-banner", {tone: "success", heading: "The connector is set up"},
        C.paragraph("Every order from your store is now checked for an influencer to credit.")), summary, folded);
    }
    return h("s-section", {heading: "Set up the connector"}, status, summary, h("ol", {class: "cnx-steps"}, open.map(step)),
      folded);
  }

  function step(s) {
    const [tone, label] = STEP[s.state] || ["neutral", s.state];
    const todo = s.state !== "done";
    return h("li", {class: `cnx-step cnx-step-${s.state}`, "data-step": s.key},
      h("div", {class: "cnx-step-head"}, C.strong(s.title), C.badge(tone, label)),
      C.paragraph(s.detail),
      todo && s.action ? C.paragraph(C.strong("What to do: "), s.action) : null,
      todo ? C.external(s.action_url) : null,
      s.checked_at ? h("div", {class: "cnx-step-checked"}, C.subdued(`Checked ${C.when(s.checked_at)}`)) : null);
  }

  function overview(ctx) {
    const part = C.slot(ctx);
    const periods = [["7", "7 days"], ["30", "30 days"], ["90", "90 days"]];
    const picker = h("div", {});
    const load = () => {
      picker.replaceChildren(C.choice("Period", periods, String(days), (value) => { days = Number(value); load(); }));
      part.fill(async () => drawOverview(await api(`/overview?days=${days}`)));
    };
    load();
    return h("s-section", {heading: "Performance"}, picker, part.el);
  }

  function drawOverview(data) {
    const tile = (label, value) => h("div", {class: "cnx-tile"}, C.subdued(label), h("div", {class: "cnx-tile-value"}, value));
    const tiles = h("div", {class: "cnx-tiles"}, tile("Clicks", C.number(data.clicks)), tile("Orders", C.number(data.orders)),
      tile("Revenue", C.money(data.revenue)), tile("Conversion rate", C.percent(data.conversion_rate)));
    const quiet = !data.clicks && !data.orders;
    return h("div", {}, tiles,
      quiet ? C.empty(`Nothing in the last ${data.days} days yet`, "When shoppers follow your influencers' links, "
        + "their clicks and the orders they bring in show up here within a minute, day by day.") : chart(data.chart_svg),
      h("s-heading", {class: "cnx-subheading"}, "Top influencers"), topInfluencers(data));
  }

  function chart(svg) {
    const el = h("div", {class: "cnx-chart"});
    // The one piece of server HTML we insert: the server draws this SVG and escapes what is in it.
    if (typeof svg === "string" && svg.trimStart().startsWith("<svg")) el.innerHTML = svg;
    return el;
  }

  function topInfluencers(data) {
    if (!data.top_influencers.length) {
      return C.empty("No influencer to show yet", `The five influencers who brought the most orders in the last ${data.days} `
        + "days are listed here, with their clicks and revenue.");
    }
    const columns = [{label: "Influencer"}, {label: "Clicks", numeric: true}, {label: "Orders", numeric: true},
      {label: "Revenue", numeric: true}, {label: "Conversion rate", numeric: true}];
    return C.table(columns, data.top_influencers.map((i) => ({cells: [
      h("s-link", {href: C.href(`/influencers?q=${encodeURIComponent(i.tracking_id)}`)}, i.tracking_id),
      C.number(i.clicks), C.number(i.orders), C.money(i.revenue), C.percent(i.conversion_rate)]})));
  }

  // ---- Influencers -------------------------------------------------------------------------------------------

  const CODE_TONE = {active: "success", existing: "success", pending: "info", removing: "info", failed: "critical",
    removed: "neutral"};
  const SEARCH_MS = 300;

  C.views.influencers = (ctx) => {
    const el = C.page("Influencers");
    let q = ctx.query.get("q") || "";
    let pageNo = Number(ctx.query.get("page")) || 1;
    const part = C.slot(ctx);
    const load = () => {
      ctx.setQuery({q, page: pageNo > 1 ? pageNo : null});
      part.fill(async () => influencerList(await api(`/influencers?${new URLSearchParams({q, page: pageNo})}`),
        (next) => { pageNo = next; load(); }));
    };
    const search = h("input", {type: "search", class: "cnx-input cnx-search", value: q, "aria-label": "Search influencers",
      placeholder: "Search by tracking id or promo code", autocomplete: "off"});
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);  // one request when the merchant stops typing, not one per key
      timer = setTimeout(() => { q = search.value.trim(); pageNo = 1; load(); }, SEARCH_MS);
    });
    load();
    el.append(h("s-section", {}, search, part.el));
    return el;
  };

  function influencerList(data, go) {
    if (!data.influencers.length) {
      return data.q ? C.empty("No influencer matches", `Nothing matches “${data.q}”. The search looks at tracking ids and promo codes.`)
        : C.empty("No influencers yet", "Your campaign platform registers influencers with the connector. Each one shows up "
          + "here as soon as it is registered, with the tracking link to share and the promo code made in your store.");
    }
    const columns = [{label: "Influencer"}, {label: "Link"}, {label: "Code"}, {label: "Clicks", numeric: true},
      {label: "Orders", numeric: true}, {label: "Revenue", numeric: true}, {label: "Conversion rate", numeric: true}];
    const rows = data.influencers.map((i) => ({cells: [C.strong(i.tracking_id), linkCell(i.link), codeCell(i),
      C.number(i.clicks), C.number(i.orders), C.money(i.revenue), C.percent(i.conversion_rate)]}));
    return h("div", {}, C.table(columns, rows), C.pager(data, rows.length, go));
  }

  function linkCell(link) {
    const copy = () => {
      const copied = navigator.clipboard ? navigator.clipboard.writeText(link) : Promise.reject(new Error("no clipboard"));
      copied.then(() => C.toast("Link copied"), () => C.toast("The link could not be copied: select it and copy it", true));
    };
    return h("div", {class: "cnx-link"}, C.breakable(link),
      C.button("Copy", copy, {variant: "tertiary", accessibilitylabel: `Copy ${link}`}));
  }

  function codeCell(i) {
    if (!i.code && i.code_state === "none") return C.subdued("No code");
    return h("div", {class: "cnx-code"}, i.code ? h("span", {class: "cnx-mono"}, i.code) : null,
      C.badge(CODE_TONE[i.code_state], i.code_state_text), i.code_error ? h("div", {}, C.critical(i.code_error)) : null);
  }

  // ---- Orders ----------------------------------------------------------------------------------------------

  const SHOW = [["all", "All"], ["credited", "Credited"], ["not_credited", "Not credited"]];
  const DELIVERY = {delivered: ["success", "Delivered"], pending: ["warning", "Pending"], failed: ["critical", "Failed"]};
  /* A conversion's delivery to the tracking platform, as a badge (deliveries use it too, with the server's tone). */
  C.deliveryBadge = (status, tone) => {
    const [ownTone, label] = DELIVERY[status] || ["neutral", status || "—"];
    return C.badge(tone || ownTone, label);
  };
  C.ordersList = "/orders";  // the list the merchant came from, for the why's back link (app-why.js)

  C.views.orders = (ctx) => (ctx.params.length ? C.orderWhy(ctx, ctx.params[0]) : orderList(ctx));

  function orderList(ctx) {
    const el = C.page("Orders");
    let show = ctx.query.get("show") || "all";
    let pageNo = Number(ctx.query.get("page")) || 1;
    const part = C.slot(ctx);
    const filter = h("div", {});
    const load = () => {
      ctx.setQuery({show: show === "all" ? null : show, page: pageNo > 1 ? pageNo : null});
      C.ordersList = location.pathname.slice(C.base.length) + location.search;
      filter.replaceChildren(C.choice("Show", SHOW, show, (value) => { show = value; pageNo = 1; load(); }));
      part.fill(async () => orderTable(await api(`/orders?${new URLSearchParams({show, page: pageNo})}`),
        (next) => { pageNo = next; load(); }));
    };
    load();
    el.append(h("s-section", {}, filter, part.el));
    return el;
  }

  function orderTable(data, go) {
    if (!data.orders.length) {
      const what = {credited: "No credited orders yet", not_credited: "Every order so far was credited"}[data.show];
      return C.empty(what || "No orders yet", "Orders show up here a few seconds after Shopify sends them, credited or not, "
        + "each with the reason. Open one to see every signal the connector weighed.");
    }
    const columns = [{label: "Order"}, {label: "Date"}, {label: "Outcome"}, {label: "Influencer"}, {label: "Method"},
      {label: "Amount", numeric: true}, {label: "Delivery"}];
    const rows = data.orders.map((o, n) => {
      const href = C.href(`/orders/${encodeURIComponent(o.order_id)}`);
      return {href, delegate: `order-${n}`, cells: [h("s-link", {href, id: `order-${n}`}, o.order_name || `#${o.order_id}`),
        C.when(o.seen_at), C.badge(o.tone, o.outcome_text), o.influencers.length ? o.influencers.join(", ") : "—",
        o.method_text || "—", C.amount(o.amount, o.currency), o.delivery ? C.deliveryBadge(o.delivery) : "—"]};
    });
    return h("div", {}, C.table(columns, rows), C.pager(data, rows.length, go));
  }
})();
