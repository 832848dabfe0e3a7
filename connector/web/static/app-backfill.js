/* The connector's page: Home's "Past orders" panel (a backfill). The store's orders of the last N days are read and
   reported first (a dry run: nothing is sent); the button that credits them restates the dry run's figures, and
   the work runs in the connector's worker while this panel shows its progress (asked again every 2 s).
   It joins Home (app-views.js) below the figures, once they are drawn, so nothing on screen is pushed down.
   Helpers come from app.js (window.Connector). */
(() => {
  "use strict";
  const C = window.Connector;
  const {h, api} = C;
  const POLL_MS = 2000;
  const PERIODS = [["30", "30 days"], ["60", "60 days"], ["90", "90 days"]];
  const METHODS = {promo_code: "Promo code", click: "Link", landing_page: "Landing page", customer: "Returning customer",
    renewal: "Renewal", manual: "By hand"};
  const home = C.views[""];

  C.views[""] = (ctx) => {
    const el = home(ctx);
    const panel = pastOrders(ctx);
    // Home appends its figures once its checklist is drawn: the panel goes after them, in the same task.
    const watch = new MutationObserver(() => {
      if (!ctx.alive()) return watch.disconnect();
      if (el.querySelector("s-section[heading='Performance']")) {
        watch.disconnect();
        el.append(panel);
      }
    });
    watch.observe(el, {childList: true});
    return el;
  };

  function pastOrders(ctx) {
    const part = C.slot(ctx);
    let timer = null;
    let days = "30";
    const load = (path = "/backfill", init) => part.fill(async () => {
      const data = await api(path, init);
      clearTimeout(timer);
      const run = data.run;
      if (run && (run.status === "reading" || run.status === "crediting")) {
        timer = setTimeout(() => ctx.alive() && load(), POLL_MS);
      }
      return draw(data, {
        look: (button) => C.busy(button, () => load("/backfill", {method: "POST", body: {days: Number(days)}})),
        credit: (button) => C.busy(button, () => load("/backfill/commit", {method: "POST",
          body: {dry_run: run.id, orders: run.figures.credited}})),
        pick: (value) => { days = value; },
        days: () => days,
      });
    });
    load();
    return h("s-section", {heading: "Past orders", "data-panel": "past-orders"},
      C.paragraph(C.subdued("Orders placed before the connector was installed were never credited. Look at what a "
        + "period would credit first: nothing is sent until you choose to credit them, and no order is ever credited twice.")),
      part.el);
  }

  function draw(data, actions) {
    const run = data.run;
    if (!run) return chooser(actions, "See what they would credit");
    if (run.status === "reading" || run.status === "crediting") return progress(run);
    if (run.status === "failed") {
      return h("div", {}, h("s-banner", {tone: "critical", heading: "The store's past orders could not be read"},
        C.paragraph(run.error || "")), chooser(actions, "Try again"));
    }
    const committed = run.mode === "commit";
    const parts = [summary(run, committed), figures(run, committed)];
    if (!committed && data.committable) {
      const f = run.figures;
      parts.push(h("div", {class: "cnx-actions"}, C.button(
        `Credit these ${C.number(f.credited)} orders (${money(f.amount)})`, (_e, button) => actions.credit(button),
        {variant: "primary", "data-action": "credit"})));
    }
    parts.push(h("s-heading", {class: "cnx-subheading"}, "Look at another period"), chooser(actions, "Look again"));
    return h("div", {}, parts);
  }

  function chooser(actions, label) {
    const picker = h("div", {});
    const drawPicker = () => picker.replaceChildren(C.choice("Period", PERIODS, actions.days(), (value) => {
      actions.pick(value);
      drawPicker();
    }));
    drawPicker();
    return h("div", {}, picker, C.button(label, (_e, button) => actions.look(button), {"data-action": "look"}));
  }

  function progress(run) {
    const total = run.status === "reading" ? run.orders_expected : run.orders_read;
    const done = run.status === "reading" ? run.orders_read : run.orders_done;
    const verb = run.status === "reading" ? "Reading the store's orders"
      : run.mode === "commit" ? "Crediting, oldest first" : "Working out what they would credit";
    const bar = h("progress", {max: total || 1, value: total ? done : 0, style: "width: 100%; height: 8px;",
      "aria-label": verb});
    if (!total && run.status === "reading") bar.removeAttribute("value");  // still counting: an indeterminate bar
    return h("div", {"data-state": "running"}, C.paragraph(C.strong(`${verb}…`), " ",
      C.subdued(total ? `${C.number(done)} of ${C.number(total)} orders` : `${C.number(done)} orders so far`)),
      bar, run.note ? C.paragraph(C.subdued(run.note)) : null,
      C.paragraph(C.subdued("This runs in the background: you can leave this page and come back.")));
  }

  function summary(run, committed) {
    const f = run.figures;
    const heading = committed ? `${C.number(f.credited)} past orders credited`
      : `${C.number(f.credited)} of ${C.number(f.orders)} orders would be credited`;
    const text = committed ? `Orders placed in the ${run.days} days before ${C.when(run.requested_at)}, each sent to your `
      + "tracking platform once, marked as a backfill." : `The last ${run.days} days, read ${C.when(run.finished_at)}. `
      + "Nothing has been sent.";
    return h("s-banner", {tone: committed ? "success" : "info", heading}, C.paragraph(text, " ",
      C.strong(`Total: ${money(f.amount)}`)));
  }

  function figures(run, committed) {
    const f = run.figures;
    const rows = [];
    for (const [trackingId, methods] of Object.entries(f.influencers).sort()) {
      for (const [method, entry] of Object.entries(methods).sort()) {
        rows.push({cells: [trackingId, METHODS[method] || method, C.number(entry.orders), money(entry.amount)]});
      }
    }
    const columns = [{label: "Influencer"}, {label: "Credited by"}, {label: "Orders", numeric: true},
      {label: "Amount", numeric: true}];
    const credited = rows.length ? C.table(columns, rows)
      : C.empty("No order to credit", "None of these orders carries an influencer's code or link.");
    const groups = Object.entries(f.not_credited).sort((a, b) => b[1].orders - a[1].orders);
    const uncredited = groups.length ? h("div", {"data-part": "not-credited"},
      h("s-heading", {class: "cnx-subheading"}, committed ? "Not credited" : "Would not be credited"),
      h("ul", {}, groups.map(([key, group]) => h("li", {}, C.strong(`${C.number(group.orders)} `),
        run.reasons[key] || key, group.examples.length ? C.subdued(` (e.g. ${group.examples.join(", ")})`) : null))))
      : null;
    return h("div", {"data-part": "figures"}, credited, uncredited);
  }

  function money(amounts) {
    const list = Object.entries(amounts || {}).map(([currency, amount]) => ({amount, currency}));
    return list.length ? C.money(list) : C.amount("0", "");
  }
})();
