/* The connector's page, part 3 of 4: an order's "why". The decision in a sentence, then everything it was made
   from: who was credited, new or returning, a returning customer's first order, a renewal's subscription,
   Shopify's record of the shopper's visits, every signal, the order's lines, its edits, the browser's reports
   and what was sent. Each part is drawn only when the order has it. Helpers come from app.js (window.Connector). */
(() => {
  "use strict";
  const C = window.Connector;
  const {h, api} = C;

  const fact = (label, ...value) => (value.some((v) => v !== null && v !== undefined && v !== false && v !== "")
    ? [h("dt", {}, label), h("dd", {}, value)] : null);
  const facts = (...rows) => h("dl", {class: "cnx-facts"}, rows);
  const mono = (text) => (text ? h("span", {class: "cnx-mono"}, text) : "—");
  const orderLink = (id, name) => h("s-link", {href: C.href(`/orders/${encodeURIComponent(id)}`)}, name || `#${id}`);
  const signed = (value, currency) => (Number(value) > 0 ? `+${C.amount(value, currency)}` : C.amount(value, currency));

  C.orderWhy = (ctx, orderId) => {
    const el = C.page("Order", {href: C.href(C.ordersList), label: "Orders"});
    const part = C.slot(ctx);
    part.fill(async () => {
      const data = await api(`/orders/${encodeURIComponent(orderId)}`).catch((error) => {
        if (error.status !== 404) throw error;
        return null;
      });
      if (!data) return h("s-banner", {tone: "critical", heading: "This order is not known to the connector"},
        C.paragraph("Shopify has not sent it, or it belongs to another store. Orders show up a few seconds after they are placed."));
      const heading = data.order_name || `Order ${data.order_id}`;
      el.setAttribute("heading", heading);
      document.title = `${heading} · Connector`;
      return h("div", {}, whySection(data), credits(data), returning(data), renewal(data), visits(data), signals(data),
        lines(data), edits(data), reports(data), sent(data));
    });
    el.append(part.el);
    return el;
  };

  function whySection(d) {
    const customer = d.customer ? [C.strong(d.customer.text), h("div", {}, C.subdued(d.customer.said_by))] : null;
    return h("s-section", {heading: "Why"},
      h("div", {class: "cnx-why-head"}, C.badge(d.tone, d.outcome_text), C.strong(d.headline)),
      d.explanation.map((sentence) => C.paragraph(sentence)),
      facts(fact("Seen", C.when(d.seen_at)), fact("Decided", d.decided_at && C.when(d.decided_at)),
        fact("Method", d.method_text), fact("Amount", d.amount !== null && C.amount(d.amount, d.currency)),
        fact("Customer", customer)));
  }

  /* Who was credited; while the order still waits (payment, the browser, Shopify's visits), who would be. */
  function credits(d) {
    const body = d.credits.length ? C.table([{label: "Influencer"}, {label: "Share", numeric: true}],
      d.credits.map((c) => ({cells: [C.strong(c.tracking_id), `${c.percent}%`]})))
      : C.paragraph(C.subdued("No influencer was credited for this order."));
    if (d.provisional && d.credits.length) {
      return h("s-section", {heading: "Would be credited to"},
        C.paragraph(C.subdued("Nothing is credited while the order waits: if nothing changes, this is who will be.")), body);
    }
    return h("s-section", {heading: "Credited to"}, body);
  }

  /* The store's returning-customer rule as it applied (only when it was on). */
  function returning(d) {
    const r = d.returning;
    if (!r) return null;
    return h("s-section", {heading: "Returning customer", "data-part": "returning"}, C.paragraph(r.text),
      facts(fact("Time given", `${C.number(r.lifetime_days)} days after their first credited order (Settings)`),
        fact("First credited order", r.first_order, r.found_by_text ? h("div", {}, C.subdued(r.found_by_text)) : null)));
  }

  function renewal(d) {
    const r = d.renewal;
    if (!r) return null;
    const start = r.start_id ? [orderLink(r.start_id, r.start_name), r.found_by_text ? h("div", {}, C.subdued(r.found_by_text)) : null]
      : null;
    return h("s-section", {heading: "Subscription renewal", "data-part": "renewal"},
      h("div", {class: "cnx-why-head"}, C.badge(r.tone, r.policy === "ignore" ? "Renewals ignored" : "Renewal"),
        h("span", {}, r.text)),
      facts(fact("Marked by", r.marker_text, h("div", {}, mono(r.marker))),
        fact("Started by", start),
        fact("Renewals here", r.policy === "ignore" ? "Ignored (Settings)" : "Credited to the start's influencers (Settings)")));
  }

  /* Shopify's first and last visits, and what became of each one's ref under the store's model. */
  function visits(d) {
    const v = d.visits;
    if (!v) return null;
    const columns = [{label: "Visit"}, {label: "When"}, {label: "Ref"}, {label: "Source"}, {label: "UTM"},
      {label: "Status"}, {label: "Why"}];
    const rows = v.rows.map((r) => ({cells: [C.strong(r.position_text), C.when(r.at), mono(r.ref), r.source || "—",
      r.utm.length ? r.utm.map((pair) => h("div", {}, C.breakable(pair))) : "—", C.badge(r.tone, r.status_text),
      r.reason_text]}));
    return h("s-section", {heading: "Shopify's visits", "data-part": "visits"}, C.paragraph(C.subdued(v.note)),
      rows.length ? C.table(columns, rows) : null);
  }

  function signals(d) {
    const columns = [{label: "Signal"}, {label: "From"}, {label: "Value"}, {label: "Influencer"}, {label: "When"},
      {label: "Status"}, {label: "Why"}];
    const body = d.signals.length ? C.table(columns, d.signals.map((s) => ({cells: [s.kind_text, s.source_text,
      mono(s.value), s.tracking_id || "—", C.when(s.at), C.badge(s.tone, s.status_text), s.reason_text]})))
      : C.paragraph(C.subdued("The order carried no promo code, tracking link or click that names an influencer."));
    return h("s-section", {heading: "Signals"}, body);
  }

  /* The purchase's lines: each one's part of the amount the commission is worked out on. */
  function lines(d) {
    if (!d.lines.length) return null;
    const columns = [{label: "Product"}, {label: "SKU"}, {label: "Quantity", numeric: true},
      {label: "Part of the amount", numeric: true}, {label: "Share", numeric: true}];
    return h("s-section", {heading: "Lines", "data-part": "lines"},
      C.paragraph(C.subdued("What your tracking platform was sent with the purchase: each line's part of the amount "
        + "the influencer's commission is worked out on.")),
      C.table(columns, d.lines.map((l) => ({cells: [C.strong(l.title), mono(l.sku), String(l.quantity),
        C.amount(l.amount, d.currency), l.percent === null ? "—" : `${l.percent}%`]}))));
  }

  function edits(d) {
    if (!d.adjustments.length) return null;
    const columns = [{label: "Edited"}, {label: "From", numeric: true}, {label: "To", numeric: true},
      {label: "Change", numeric: true}, {label: "Note"}];
    return h("s-section", {heading: "Edits", "data-part": "edits"},
      C.paragraph(C.subdued("Each edit of the order after it was credited, and the difference sent as an adjustment.")),
      C.table(columns, d.adjustments.map((a) => ({cells: [C.when(a.at), C.amount(a.from, a.currency),
        C.amount(a.to, a.currency), C.strong(signed(a.amount, a.currency)), a.floor_text || "—"]}))));
  }

  function reports(d) {
    const body = d.reports.length ? C.table([{label: "Received"}, {label: "Touches", numeric: true}, {label: "Status"},
      {label: "Note"}], d.reports.map((r) => ({cells: [C.when(r.received_at), C.number(r.touches), r.status, r.note || "—"]})))
      : C.paragraph(C.subdued("No report came from the shopper's browser. The web pixel sends one at checkout when "
        + "the browser allows it; without it, only the order's own codes and links count."));
    return h("s-section", {heading: "Browser reports"}, body);
  }

  /* The lines a conversion concerns, one a line: "Merino Socks × −1 · −€12.75". An adjustment's amounts carry
     their sign (an edit adds or takes off); a refund's are what it takes back, as the backend reads them. */
  function itemList(c) {
    if (!c.items.length) return "—";
    const money = c.type === "conversion.adjustment" ? signed : C.amount;
    return h("ul", {class: "cnx-items"}, c.items.map((i) => h("li", {}, h("span", {}, i.title),
      C.subdued(` × ${i.quantity} · `), h("span", {class: "cnx-nowrap"}, money(i.amount, c.currency)))));
  }

  function sent(d) {
    const money = (c) => (c.type === "conversion.adjustment" ? signed : C.amount)(c.amount, c.currency);
    const body = d.conversions.length ? C.table([{label: "Conversion"}, {label: "Amount", numeric: true}, {label: "Lines"},
      {label: "Status"}, {label: "Attempts", numeric: true}], d.conversions.map((c) => ({cells: [
      [C.strong(c.type_text), h("div", {}, C.subdued(C.when(c.created_at)))], money(c),
      itemList(c), C.deliveryBadge(c.status), C.number(c.attempts)]})))
      : C.paragraph(C.subdued("Nothing was sent to your tracking platform for this order."));
    return h("s-section", {heading: "Sent to tracking"}, body,
      d.conversions.length ? h("div", {class: "cnx-actions"}, h("s-link", {href: C.href("/deliveries")}, "See every delivery"))
        : null);
  }
})();
