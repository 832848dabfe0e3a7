/* The connector's page, part 4 of 4: the views where the merchant changes something. Deliveries (what was
   sent to the tracking platform, with a replay) and Settings (a form under App Bridge's save bar).
   Helpers come from app.js (window.Connector). */
(() => {
  "use strict";
  const C = window.Connector;
  const {h, api} = C;

  // ---- Deliveries --------------------------------------------------------------------------------------------

  const STATUS = [["all", "All"], ["failed", "Failed"], ["pending", "Pending"], ["delivered", "Delivered"]];
  const COLUMNS = [{label: "Conversion"}, {label: "Influencer"}, {label: "Amount", numeric: true}, {label: "Status"},
    {label: "Attempts"}, {label: "Action"}];

  C.views.deliveries = (ctx) => {
    const el = C.page("Deliveries");
    let status = ctx.query.get("status") || "all";
    let pageNo = Number(ctx.query.get("page")) || 1;
    const part = C.slot(ctx);
    const load = () => {
      ctx.setQuery({status: status === "all" ? null : status, page: pageNo > 1 ? pageNo : null});
      part.fill(async () => deliveryList(await api(`/deliveries?${new URLSearchParams({status, page: pageNo})}`), {
        pick: (value) => { status = value; pageNo = 1; load(); },
        go: (next) => { pageNo = next; load(); },
      }));
    };
    load();
    el.append(h("s-section", {}, C.paragraph(C.subdued("Each credited order, refund and cancellation is sent, signed, to "
      + "your tracking platform. Deliveries that failed come first; a replay sends one again.")), part.el));
    return el;
  };

  function deliveryList(data, {pick, go}) {
    const counts = {...data.counts};
    const filter = h("div", {});
    const drawFilter = () => filter.replaceChildren(C.choice("Status", STATUS.map(([key, text]) =>
      [key, key === "all" ? text : `${text} (${C.number(counts[key])})`]), data.status, pick));
    drawFilter();
    if (!data.deliveries.length) return h("div", {}, filter, emptyDeliveries(data.status));
    const rows = data.deliveries.map((d) => replayable(d, counts, drawFilter));
    return h("div", {}, filter, C.table(COLUMNS, rows), C.pager(data, rows.length, go));
  }

  function emptyDeliveries(status) {
    if (status === "failed") return C.empty("Nothing failed", "When your tracking platform refuses a conversion or does not answer, "
      + "it is listed here with its answer, and you can send it again.");
    return C.empty("Nothing sent yet", "Each credited order, refund and cancellation is listed here as soon as it is sent, "
      + "with every attempt and your tracking platform's answer.");
  }

  /* A delivery's row, with a Replay button when it failed or is still waiting: the row is drawn anew from
     the server's answer, and the counts follow. */
  function replayable(d, counts, drawFilter) {
    let row = null;
    const replay = (_event, button) => C.busy(button, async () => {
      try {
        const answer = await api(`/deliveries/${encodeURIComponent(d.id)}/replay`, {method: "POST"});
        counts[d.status] -= 1;
        counts[answer.delivery.status] = (counts[answer.delivery.status] || 0) + 1;
        drawFilter();
        row.replaceWith(replayable(answer.delivery, counts, drawFilter));
        C.toast(answer.message || "Queued to be sent again");
      } catch (error) {
        if (!(error instanceof C.ApiError)) throw error;
        const shown = button.parentElement.querySelector(".cnx-row-error");
        if (shown) shown.remove();
        button.after(h("div", {class: "cnx-row-error"}, C.critical(error.message)));
      }
    });
    row = C.tableRow(COLUMNS, {cells: deliveryCells(d, replay)});
    row.dataset.delivery = d.id;
    return row;
  }

  function deliveryCells(d, replay) {
    const order = d.order_id ? h("div", {}, h("s-link", {href: C.href(`/orders/${encodeURIComponent(d.order_id)}`)},
      d.order_name || `#${d.order_id}`)) : null;
    const line = (...children) => h("div", {}, C.subdued(...children));
    const status = [C.deliveryBadge(d.status, d.tone), d.last_error ? h("div", {}, C.critical(d.last_error)) : null,
      d.status === "pending" && d.next_attempt_at ? line(`Next try ${C.when(d.next_attempt_at)}`) : null,
      d.delivered_at ? line(`Delivered ${C.when(d.delivered_at)}`) : null];
    const attempts = [line(d.attempts === 1 ? "1 attempt" : `${C.number(d.attempts)} attempts`),
      d.recent_attempts.length ? h("ul", {class: "cnx-attempts"},
        d.recent_attempts.map((a, i) => attempt(a, d.recent_attempts[i - 1]))) : null];
    const action = d.status === "failed" || d.status === "pending" ? C.button("Replay", replay) : "—";
    return [[C.strong(d.type_text), order, line(C.when(d.created_at))], d.tracking_id || "—", C.amount(d.amount, d.currency),
      status, attempts, action];
  }

  /* One line per attempt (newest first): when, the answer, how long; the error when it says more than the
     answer; what the platform said, word for word, unless the newer attempt above said the same. */
  function attempt(a, newer) {
    const answer = a.status_code ? `HTTP ${a.status_code}` : "No answer";
    const took = a.duration_ms === null || a.duration_ms === undefined ? "" : ` · ${C.number(a.duration_ms)} ms`;
    const ok = a.status_code >= 200 && a.status_code < 300;
    const excerpt = a.excerpt && !(newer && newer.excerpt === a.excerpt) ? a.excerpt : null;
    return h("li", {}, h("div", {}, `${C.when(a.at)} · `, ok ? answer : C.critical(answer), took),
      a.error && a.error !== answer ? h("div", {}, C.critical(a.error)) : null,
      excerpt ? h("code", {class: "cnx-excerpt"}, excerpt) : null);
  }

  // ---- Settings ------------------------------------------------------------------------------------------------

  const ORDINALS = ["First", "Second", "Third", "Fourth", "Last"];

  C.views.settings = (ctx) => {
    const el = C.page("Settings");
    const part = C.slot(ctx);
    part.fill(async () => settingsForm(await api("/settings")));
    el.append(part.el);
    return el;
  };

  /* Native inputs, not Polaris fields: App Bridge's save bar (data-save-bar) watches the form's own inputs.
     The server is the one validator (novalidate), so its message shows next to the field it names. */
  function settingsForm({settings, choices}) {
    const f = {
      model: select("model", choices.model), window_days: numberInput("window_days", 1, 365),
      half_life_days: numberInput("half_life_days", 1, 365),
      precedence: choices.precedence.map((_c, i) => select(`precedence_${i}`, choices.precedence,
        `${ORDINALS[i] || i + 1} kind of signal`)),
      forward_test_orders: h("input", {type: "checkbox", name: "forward_test_orders", id: "field-forward_test_orders"}),
      credit_on: select("credit_on", choices.credit_on),
      lifetime_days: numberInput("lifetime_days", 0, 3650), renewals: select("renewals", choices.renewals),
    };
    const helpOf = (list, control) => () => ((list.find((c) => c.value === control.value) || {}).help || "");
    const form = h("form", {"data-save-bar": true, "data-discard-confirmation": true, novalidate: true, class: "cnx-form"},
      h("div", {class: "cnx-form-error", hidden: true}),
      h("s-section", {heading: "Attribution"},
        field("model", "Model", f.model, helpOf(choices.model, f.model)),
        field("window_days", "Window", suffixed(f.window_days, "days"), () => "Clicks older than this before the order do not "
          + "count; the order's record keeps them as out of window."),
        field("half_life_days", "Half-life", suffixed(f.half_life_days, "days"), () => (f.model.value === "time_decay"
          ? "A click this many days older than another counts half as much."
          : "Only used by the Time decay model: with the model chosen above it changes nothing.")),
        field("precedence", "When an order has more than one kind of signal", h("ol", {class: "cnx-precedence"},
          f.precedence.map((s, i) => h("li", {}, C.subdued(`${i + 1}.`), s))),
        () => "The first kind the order carries wins; the kinds below it are kept in the order's record as beaten. A "
          + "renewal goes to the influencers of the order that started its subscription; a returning customer to those "
          + "of their first credited order.")),
      h("s-section", {heading: "Repeat orders"},
        field("lifetime_days", "Returning customers", suffixed(f.lifetime_days, "days"), () => lifetimeHelp(f)),
        field("renewals", "Subscription renewals", f.renewals, helpOf(choices.renewals, f.renewals))),
      h("s-section", {heading: "Orders"},
        field("credit_on", "Credit an order", f.credit_on, helpOf(choices.credit_on, f.credit_on)),
        field("forward_test_orders", null, h("label", {class: "cnx-check"}, f.forward_test_orders, " Credit test orders"),
          () => "Test orders are sent marked as tests. Off: they are listed here but never credited.")));
    put(f, settings);
    // the help drawn with the controls' first values: now that the saved ones are in, draw what they mean
    form.querySelectorAll(".cnx-field").forEach((el) => el.refresh());
    wire(form, f);
    return form;
  }

  /* What the returning-customer setting does with the number of days now in the field. */
  function lifetimeHelp(f) {
    const days = Number(f.lifetime_days.value);
    if (f.lifetime_days.value.trim() === "" || !Number.isInteger(days) || days < 0 || days > 3650) {
      return "A customer's orders within this many days of their first credited order go to that order's influencers. "
        + "0 turns this off.";
    }
    if (days === 0) return "Off (0): a customer's later orders are credited only by their own promo code, click or ref.";
    return `A customer's orders within ${C.number(days)} days of their first credited order go to that order's `
      + "influencers, in the same shares, unless the order carries a signal that comes before “Returning customer” "
      + "in the signal order above. 0 turns this off.";
  }

  function select(name, options, label) {
    return h("select", {name, id: `field-${name}`, class: "cnx-input", "aria-label": label || null},
      options.map((o) => h("option", {value: o.value}, o.label)));
  }

  const numberInput = (name, min, max) => h("input", {type: "number", name, id: `field-${name}`,
    class: "cnx-input cnx-number", min, max, step: 1, inputmode: "numeric"});
  const suffixed = (input, suffix) => h("span", {class: "cnx-suffixed"}, input, C.subdued(suffix));

  /* A labelled field with its help (redrawn on every change: it may depend on the values) and its error. */
  function field(name, label, control, help) {
    const input = control.matches("input, select") ? control : control.querySelector("input, select");
    const forId = label && input ? input.id : null;
    const helpEl = h("div", {class: "cnx-help"}, C.subdued(help()));
    const el = h("div", {class: "cnx-field", "data-field": name},
      label ? h(forId ? "label" : "div", {class: "cnx-label", for: forId}, label) : null, control, helpEl,
      h("div", {class: "cnx-field-error", id: `error-${name}`, role: "alert", hidden: true}));
    el.refresh = () => helpEl.replaceChildren(C.subdued(help()));
    return el;
  }

  /* The values as saved: each control's value and its default (what a reset goes back to and what the
     save bar compares with). */
  function put(f, s) {
    const choose = (sel, value) => {
      for (const option of sel.options) option.defaultSelected = option.value === value;
      sel.value = value;
    };
    choose(f.model, s.model);
    choose(f.credit_on, s.credit_on);
    choose(f.renewals, s.renewals);
    f.precedence.forEach((sel, i) => choose(sel, s.precedence[i]));
    for (const key of ["window_days", "half_life_days", "lifetime_days"]) f[key].defaultValue = f[key].value = String(s[key]);
    f.forward_test_orders.defaultChecked = f.forward_test_orders.checked = Boolean(s.forward_test_orders);
  }

  function read(f) {
    const whole = (input) => (input.value.trim() === "" ? null : Number(input.value));
    return {model: f.model.value, window_days: whole(f.window_days), half_life_days: whole(f.half_life_days),
      precedence: f.precedence.map((s) => s.value), forward_test_orders: f.forward_test_orders.checked,
      credit_on: f.credit_on.value, lifetime_days: whole(f.lifetime_days), renewals: f.renewals.value};
  }

  function wire(form, f) {
    let before = f.precedence.map((s) => s.value);
    const refresh = () => form.querySelectorAll(".cnx-field").forEach((el) => el.refresh());
    form.addEventListener("input", refresh);  // the help that follows a number (returning customers) as it is typed
    form.addEventListener("change", (event) => {
      const i = f.precedence.indexOf(event.target);
      if (i >= 0) {  // the selects stay an order of every kind: the one that held the new value takes the old
        const other = f.precedence.find((s, j) => j !== i && s.value === event.target.value);
        if (other) other.value = before[i];
        before = f.precedence.map((s) => s.value);
      }
      refresh();
    });
    form.addEventListener("reset", () => setTimeout(() => {  // after the browser put the defaults back
      before = f.precedence.map((s) => s.value);
      showError(form, null);
      refresh();
    }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      save(form, f);
    });
  }

  let saving = false;

  async function save(form, f) {
    if (saving) return;
    saving = true;
    showError(form, null);
    try {
      const answer = await api("/settings", {method: "PUT", body: read(f)});
      put(f, answer.settings);  // the saved values become the defaults: the form is clean again
      C.toast(answer.message || "Settings saved");
    } catch (error) {
      if (!(error instanceof C.ApiError)) throw error;
      const control = showError(form, error);
      // App Bridge hid its bar on submit; the values still differ from the saved ones, so a change brings it back.
      (control || f.model).dispatchEvent(new Event("change", {bubbles: true}));
      C.toast("Settings not saved", true);
    } finally {
      saving = false;
    }
  }

  /* The server's message in red under the field it names (or above the form); null clears. */
  function showError(form, error) {
    for (const el of form.querySelectorAll(".cnx-field-error, .cnx-form-error")) {
      el.hidden = true;
      el.replaceChildren();
    }
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    if (!error) return null;
    const box = error.field && form.querySelector(`[data-field="${CSS.escape(error.field)}"]`);
    const slot = box ? box.querySelector(".cnx-field-error") : form.querySelector(".cnx-form-error");
    slot.append(box ? C.critical(error.message) : h("s-banner", {tone: "critical", heading: "Settings not saved"},
      C.paragraph(error.message)));
    slot.hidden = false;
    const control = box && box.querySelector("input, select");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", slot.id);
      control.focus();
    }
    return control;
  }
})();
