/* The connector's page, part 3 of 4: an order's "why". The decision in a sentence, then everything it was made
   from: who was credited (by hand: who did it, when and why; not credited: the form that credits it by hand),
   new or returning, a returning customer's first order, a renewal's subscription, Shopify's record of the
   shopper's visits, every signal, the order's lines, its edits, the browser's reports and what was sent. Each
   part is drawn only when the order has it. Helpers come from app.js (window.Connector). */
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
    const draw = async () => {
      const data = await api(`/orders/${encodeURIComponent(orderId)}`).catch((error) => {
        if (error.status !== 404) throw error;
        return null;
      });
      if (!data) return h("s-banner", {tone: "critical", heading: "This order is not known to the connector"},
        C.paragraph("Shopify has not sent it, or it belongs to another store. Orders show up a few seconds after they are placed."));
      const heading = data.order_name || `Order ${data.order_id}`;
      el.setAttribute("heading", heading);
      document.title = `${heading} · Connector`;
      return h("div", {}, whySection(data), credits(data), byHand(data, () => part.fill(draw)), returning(data),
        renewal(data), visits(data), signals(data), lines(data), edits(data), reports(data), sent(data));
    };
    part.fill(draw);
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

  /* Credited by hand: who did it, when, why, and what the signals had decided. Not credited: the form that credits it
     by hand, or why it cannot be. `reload` draws the order again from the server. */
  function byHand(d, reload) {
    const b = d.by_hand;
    if (!b) return null;
    if (b.done) {
      return h("s-section", {heading: "Credited by hand", "data-part": "by-hand"},
        facts(fact("By", b.by_text), fact("When", b.at && C.when(b.at)), fact("Note", b.note),
          fact("Before", b.before_text)));
    }
    if (d.outcome === "credit") return null;
    const section = h("s-section", {heading: "Credit by hand", "data-part": "credit-by-hand"});
    if (!b.possible) return add(section, C.paragraph(C.subdued(`It cannot be credited by hand: ${b.why_not}`)));
    const open = C.button("Credit by hand", () => {
      open.remove();
      section.append(creditForm(d, reload, () => section.replaceChildren(intro, open)));
    });
    const intro = C.paragraph(C.subdued("No signal credited this order. If you know who brought it, credit it to "
      + "them: your tracking platform is sent a purchase marked as credited by hand, and its refunds, edits and "
      + "cancellation are then sent like any other's."));
    return add(section, intro, open);
  }

  const add = (el, ...children) => C.add(el, children);

  /* The form: influencers (suggested from the store's as the merchant types), their shares in percent (all empty:
     equal shares), a note. Errors come back naming their field (credits.1.percent) and are shown beside it. */
  function creditForm(d, reload, cancel) {
    const listId = "cnx-influencer-choices";
    const choices = h("datalist", {id: listId});
    const rows = h("div", {class: "cnx-credit-rows"});
    const note = h("textarea", {name: "note", id: "field-note", class: "cnx-input cnx-search", rows: 3, maxlength: 500,
      placeholder: "Why it is credited by hand (kept with the order)"});
    const submit = C.button("Credit this order", () => send(), {variant: "primary", type: "submit"});
    const form = h("form", {class: "cnx-credit-form", novalidate: true},
      h("div", {class: "cnx-form-error", role: "alert", hidden: true}), choices,
      box("credits", null, h("div", {}, rows, h("div", {class: "cnx-actions"},
        C.button("Add an influencer", () => addRow(), {variant: "tertiary"}))),
        "Leave every share empty to split the order equally."),
      box("note", "Note (optional)", note, null),
      h("s-stack", {direction: "inline", gap: "small-200"}, submit, C.button("Cancel", () => cancel())));
    let suggested = 0;
    async function suggest(q) {
      const mine = ++suggested;
      const found = await C.api(`/orders/${encodeURIComponent(d.order_id)}/credit?${new URLSearchParams({q})}`)
        .catch(() => null);
      if (found && mine === suggested) {
        choices.replaceChildren(...found.influencers.map((i) => h("option", {value: i.tracking_id},
          i.campaign_id ? `${i.tracking_id} · ${i.campaign_id}` : i.tracking_id)));
      }
    }
    let timer = null;
    function addRow() {
      const who = h("input", {type: "text", name: "tracking_id", class: "cnx-input", list: listId, autocomplete: "off",
        spellcheck: "false", "aria-label": "Influencer"});
      who.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => suggest(who.value.trim()), 150);
      });
      const share = h("input", {type: "text", name: "percent", class: "cnx-input cnx-number", inputmode: "decimal",
        "aria-label": "Share in percent", placeholder: "equal"});
      const remove = C.button("Remove", () => {
        row.remove();
        renumber();
      }, {variant: "tertiary"});
      // Remove sits beside the share, so that on a phone, where a row wraps, it stays with its own row.
      // The row keeps the field's spacing; its two parts none (a margin on one would put them out of line).
      const row = h("s-stack", {direction: "inline", gap: "small-200", class: "cnx-field cnx-credit-row"},
        box("tracking_id", "Influencer", who, null, "cnx-credit-part"),
        box("percent", "Share", h("span", {class: "cnx-suffixed"}, share, C.subdued("%"), remove), null, "cnx-credit-part"));
      rows.append(row);
      renumber();
      return who;
    }
    function renumber() {
      [...rows.children].forEach((row, i) => {
        for (const el of row.querySelectorAll("[data-name]")) el.dataset.field = `credits.${i}.${el.dataset.name}`;
        row.querySelector("s-button").hidden = rows.children.length === 1;
      });
    }
    function read() {
      // every row, empty ones too: the server names a wrong one by its place (credits.1.percent)
      const credits = [...rows.children].map((row) => {
        const percent = row.querySelector("input[name=percent]").value.trim();
        return {tracking_id: row.querySelector("input[name=tracking_id]").value.trim(), percent: percent || null};
      });
      return {credits, note: note.value.trim() || null};
    }
    let sending = false;
    async function send() {
      if (sending) return;
      sending = true;
      showError(form, null);
      try {
        const answer = await C.busy(submit, () => C.api(`/orders/${encodeURIComponent(d.order_id)}/credit`,
          {method: "POST", body: read()}));
        C.toast(answer.message);
        reload();
      } catch (error) {
        if (!(error instanceof C.ApiError)) throw error;
        showError(form, error);
      } finally {
        sending = false;
      }
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send();
    });
    const first = addRow();
    suggest("");
    setTimeout(() => first.focus());
    return form;
  }

  /* A labelled control with its help and the slot its error goes in; `name` is the field's own name (a row's is
     numbered by renumber()). */
  function box(name, label, control, help, kind = "cnx-field") {
    const input = control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea");
    if (input && label) input.id = input.id || `field-${name}-${Math.random().toString(36).slice(2, 8)}`;
    return h("div", {class: kind, "data-field": name, "data-name": name},
      label ? h("label", {class: "cnx-label", for: input ? input.id : null}, label) : null, control,
      help ? h("div", {class: "cnx-help"}, C.subdued(help)) : null,
      h("div", {class: "cnx-field-error", role: "alert", hidden: true}));
  }

  /* The server's message in red under the field it names (or above the form); null clears. */
  function showError(form, error) {
    for (const el of form.querySelectorAll(".cnx-field-error, .cnx-form-error")) {
      el.hidden = true;
      el.replaceChildren();
    }
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    if (!error) return;
    const box = error.field && form.querySelector(`[data-field="${CSS.escape(error.field)}"]`);
    const slot = box ? box.querySelector(":scope > .cnx-field-error") : form.querySelector(".cnx-form-error");
    slot.append(box ? C.critical(error.message) : h("s-banner", {tone: "critical", heading: "Not credited"},
      C.paragraph(error.message)));
    slot.hidden = false;
    const control = box && box.querySelector("input, textarea");
    if (control && box.dataset.field !== "credits") {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
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
    const superseded = d.signals.some((s) => s.superseded)
      ? C.paragraph(C.subdued("Recorded before the order was credited by hand: the credit by hand replaced what they decided."))
      : null;
    return h("s-section", {heading: "Signals"}, superseded, body);
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
