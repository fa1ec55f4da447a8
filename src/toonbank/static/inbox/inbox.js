// Toonbank agent inbox. No build step, no dependencies. Everything from the server is
// rendered with textContent (never innerHTML), so message text can never become markup.
"use strict";
(() => {
  const API = "/api/v1/inbox";
  const $ = (sel) => document.querySelector(sel);
  const T = (id) => document.querySelector(`[data-testid="${id}"]`);
  const state = {
    me: null, view: "queue", current: null, detail: null, lastEventId: 0, ws: null,
    presence: new Map(), retry: 500, typingTimer: null, agents: [], teams: [], rows: [],
  };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(label, attrs, onClick) {
    const node = el("button", { type: "button", ...(attrs || {}) }, label);
    node.addEventListener("click", onClick);
    return node;
  }

  const Files = window.ToonbankAttachments;
  const MAX_CAPTION = 1024;
  const money = (m) => (m ? `${m.amount} ${m.currency}` : "");
  const can = (permission) => Boolean(state.me && state.me.permissions.includes(permission));
  const conversationPath = (suffix) =>
    `${API}/conversations/${encodeURIComponent(state.current)}${suffix ? `/${suffix}` : ""}`;

  async function call(method, path, body) {
    const init = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText);
      error.status = response.status; error.data = data;
      throw error;
    }
    return data;
  }

  function showError(message) { T("error").textContent = message || ""; }

  // ---- login ---------------------------------------------------------------------------
  async function start() {
    try {
      state.me = await call("GET", `${API}/me`);
    } catch (_) {
      $("#login").hidden = false; $("#app").hidden = true;
      return;
    }
    $("#login").hidden = true; $("#app").hidden = false;
    T("me").textContent = `${state.me.display_name} (${state.me.role})`;
    T("availability").value = state.me.availability;
    T("tab-all").hidden = !can("conversations:all");
    connect();  // live events first; the lists load meanwhile
    await Promise.all([loadDirectory(), selectView(state.view)]);
  }

  async function loadDirectory() {
    state.agents = await call("GET", `${API}/agents`);
    state.teams = await call("GET", `${API}/teams`);
    const agents = T("assign-agent");
    agents.replaceChildren(...state.agents.map((a) => el("option", { value: a.id }, a.display_name)));
    const teams = T("route-team");
    teams.replaceChildren(
      el("option", { value: "" }, "no team"),
      ...state.teams.map((t) => el("option", { value: t.id }, `${t.name}${t.open ? "" : " (closed)"}`)),
    );
  }

  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await call("POST", "/auth/login", {
        workspace: form.get("workspace"), email: form.get("email"), password: form.get("password"),
      });
      T("login-error").textContent = "";
      await start();
    } catch (error) {
      T("login-error").textContent = error.message;
    }
  });

  T("logout").addEventListener("click", async () => {
    await call("POST", "/auth/logout");
    if (state.ws) state.ws.close();
    location.reload();
  });

  T("availability").addEventListener("change", async (event) => {
    await call("POST", `${API}/me`, { availability: event.target.value });
    await loadList();
  });

  // ---- lists ---------------------------------------------------------------------------
  async function selectView(view) {
    state.view = view;
    for (const tab of document.querySelectorAll("[data-view]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    }
    await loadList();
  }
  for (const tab of document.querySelectorAll("[data-view]")) {
    tab.addEventListener("click", () => selectView(tab.dataset.view));
  }
  $("#filters").addEventListener("submit", (event) => { event.preventDefault(); loadList(); });

  function slaText(sla) {
    if (!sla) return "";
    const kind = sla.kind === "first" ? "first reply" : "next reply";
    if (sla.state === "breached") return `SLA ${kind} overdue`;
    const minutes = Math.max(0, Math.ceil(sla.seconds_left / 60));
    return `SLA ${kind} in ${minutes} min`;
  }

  async function loadList() {
    const params = new URLSearchParams({ view: state.view });
    const filters = { status: "filter-status", channel: "filter-channel", label: "filter-label", language: "filter-language" };
    for (const [key, id] of Object.entries(filters)) {
      const value = T(id).value.trim();
      if (value) params.set(key, value);
    }
    const seq = (state.listSeq = (state.listSeq || 0) + 1);
    let rows;
    try {
      rows = await call("GET", `${API}/conversations?${params}`);
    } catch (error) {
      showError(error.message); return;
    }
    if (seq !== state.listSeq) return;  // a newer list request (other filters) is on its way
    state.rows = rows;
    const list = T("conversation-list");
    list.replaceChildren();
    for (const row of rows) {
      const item = el("li", {
        "data-conversation-id": row.id, "data-status": row.status, tabindex: "0",
        "aria-current": String(row.id === state.current),
      });
      item.append(el("strong", {}, row.contact.display_name || "Customer"));
      item.append(el("div", { class: "meta" }, `${row.channel || "?"} · ${row.status}${row.language ? ` · ${row.language}` : ""}`));
      if (row.sla) {
        item.append(el("div", { class: "sla", "data-sla": row.sla.state, "data-testid": "row-sla" }, slaText(row.sla)));
      }
      if (row.labels && row.labels.length) {
        item.append(el("div", { class: "labels" }, row.labels.join(", ")));
      }
      item.addEventListener("click", () => openConversation(row.id));
      item.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(row.id); });
      list.append(item);
    }
  }

  T("take-next").addEventListener("click", async () => {
    const result = await call("POST", `${API}/next`);
    if (result.conversation) {
      await selectView("mine");
      await openConversation(result.conversation.id);
    } else {
      showError("Nothing in the queue for you right now.");
    }
  });

  // ---- conversation --------------------------------------------------------------------
  async function openConversation(id) {
    if (state.current && state.current !== id) sendPresence(state.current, "left");
    state.current = id;
    showError("");
    state.presence.clear();
    T("catalog-results").replaceChildren();
    if (Files) Files.clear();
    await refreshConversation();
    sendPresence(id, "viewing");
    for (const item of document.querySelectorAll("[data-conversation-id]")) {
      item.setAttribute("aria-current", String(item.dataset.conversationId === id));
    }
  }

  async function refreshConversation() {
    if (!state.current) return;
    const seq = (state.detailSeq = (state.detailSeq || 0) + 1);
    let detail;
    try {
      detail = await call("GET", conversationPath());
    } catch (error) {
      if (error.status === 404) { closePanel(); return; }
      throw error;
    }
    if (seq !== state.detailSeq) return;  // superseded by a newer refresh
    state.detail = detail;
    const c = detail.conversation;
    const open = c.status !== "closed";
    const act = detail.can_act && open;
    $("#conversation").hidden = false;
    $("#side").hidden = false;
    T("conversation-title").textContent = c.contact.display_name || "Customer";
    T("conversation-status").textContent = `${c.status} · ${c.channel || ""}`;
    $("#conversation").dataset.status = c.status;
    const sla = T("sla");
    sla.textContent = slaText(c.sla);
    sla.dataset.sla = c.sla ? c.sla.state : "";
    T("take").hidden = !(c.status === "queued" || c.status === "bot");
    for (const id of ["hand-back", "release", "close", "csat", "label-add", "send-products", "payment-link"]) {
      T(id).hidden = !act;
    }
    T("release").hidden = !act || c.status !== "assigned";
    T("supervisor-tools").hidden = !(can("conversations:reassign") && open);
    if (c.team_id !== undefined) T("route-team").value = c.team_id || "";
    T("composer").disabled = !act;
    T("send").disabled = !act;
    T("attach").disabled = !act;
    T("composer").placeholder = act ? "Reply to the customer (Ctrl+Enter sends)" : "Take the conversation to reply";
    renderLabels(c.labels || [], act);
    const history = T("history");
    history.replaceChildren();
    for (const m of detail.history) history.append(renderMessage(m));
    if (history.lastElementChild) history.lastElementChild.scrollIntoView({ block: "end" });
    const notes = T("notes");
    notes.replaceChildren();
    for (const n of detail.notes) notes.append(el("li", { "data-note-id": n.id }, n.body));
    renderWindow(detail.window, act);
    renderHandover(detail.handover);
    renderPresence();
    await loadSide(act);
    if (window.ToonbankSuggestions) window.ToonbankSuggestions.show(state.current, detail);
  }

  function renderHandover(handover) {
    const box = T("handover");
    box.hidden = !handover;
    if (!handover) return;
    T("handover-summary").textContent = handover.summary || handover.reason || "";
    const cart = handover.cart;
    T("handover-cart").textContent = cart
      ? `Cart: ${cart.lines.map((l) => `${l.quantity} x ${l.title}`).join(", ")} (${cart.total.amount} ${cart.total.currency})`
      : "";
  }

  function renderLabels(labels, act) {
    const box = T("labels");
    box.replaceChildren();
    for (const label of labels) {
      const chip = el("span", { class: "chip", "data-label": label }, label);
      if (act) {
        chip.append(button("×", { "aria-label": `Remove label ${label}` }, () =>
          act_("DELETE", `labels/${encodeURIComponent(label)}`)));
      }
      box.append(chip);
    }
  }

  function renderWindow(w, act) {
    const box = T("window");
    const text = T("window-text");
    const list = T("templates");
    list.replaceChildren();
    box.dataset.open = String(Boolean(w.open));
    if (w.open) {
      text.textContent = w.human_agent_tag
        ? "The standard reply window has closed: your replies go out with the HUMAN_AGENT tag (Messenger, 7 days)."
        : "";
      return;
    }
    text.textContent = w.hint || "The customer cannot be reached.";
    for (const t of w.templates || []) {
      const item = el("li", { "data-template": t.name });
      item.append(el("span", {}, `${t.text} (${t.language})`));
      if (act) {
        item.append(button("Send template", { "data-testid": "send-template" }, () =>
          act_("POST", "messages", {
            content: { type: "template", name: t.name, language: t.language, variables: [], fallback_text: t.text },
          })));
      }
      list.append(item);
    }
  }

  function renderMessage(m) {
    const item = el("li", {
      class: "msg", "data-message-id": m.id, "data-direction": m.direction, "data-sender": m.sender,
      "data-type": (m.content || {}).type || "",
    });
    const content = m.content || {};
    let text = content.text ?? content.caption ?? content.title ?? content.fallback_text;
    if (content.type === "carousel") text = `${content.text || "Products"}: ${content.products.map((p) => p.title).join(", ")}`;
    if (content.type === "product") text = `${content.text ? `${content.text}: ` : ""}${content.product.title}`;
    if (content.type === "payment_link") text = `Payment link: ${content.text || ""}`;
    if (content.type === "template") text = `Template ${content.name}: ${content.fallback_text || ""}`;
    if (content.type === "media") {
      text = content.caption || content.filename || `[${content.kind}]`;
      const media = Files && Files.view(content);
      if (media) item.append(media);
    }
    item.append(el("div", { class: "text" }, text ?? `[${content.type}]`));
    item.append(el("div", { class: "meta" }, `${m.sender} · ${m.channel || ""} · ${m.status}`));
    return item;
  }

  function closePanel() {
    state.current = null; state.detail = null;
    $("#conversation").hidden = true;
    $("#side").hidden = true;
  }

  async function act_(method, path, body) {
    showError("");
    let result = null;
    try {
      result = await call(method, conversationPath(path), body);
    } catch (error) {
      const hint = error.data && error.data.window && error.data.window.hint;
      showError(hint || error.message);
    }
    await refreshConversation();
    await loadList();
    return result;
  }
  const act = (path, body) => act_("POST", path, body);

  T("take").addEventListener("click", () => act("take"));
  T("hand-back").addEventListener("click", () => act("hand-back"));
  T("release").addEventListener("click", () => act("release"));
  T("csat").addEventListener("click", () => act("csat"));
  T("close").addEventListener("click", () => {
    const reason = T("close-reason").value.trim() || "resolved";
    return act("close", { reason });
  });
  T("label-add").addEventListener("click", async () => {
    const input = T("label-input");
    const label = input.value.trim();
    if (!label) return;
    await act("labels", { label });
    input.value = "";
  });
  T("assign").addEventListener("click", () => act("assign", { agent_id: T("assign-agent").value }));
  T("route-apply").addEventListener("click", () => act("routing", { team_id: T("route-team").value }));

  async function send() {
    const box = T("composer");
    const text = box.value.trim();
    const attached = Files && Files.chosen();
    if (!text && !attached) return;
    showError("");
    try {
      if (attached) {  // the text is the caption (or follows when it is too long for one)
        const caption = text.length <= MAX_CAPTION ? text : "";
        const content = await Files.content(conversationPath("upload"), caption);
        await call("POST", conversationPath("messages"), { content });
        Files.clear();
        if (text && !caption) await call("POST", conversationPath("messages"), { text });
      } else {
        await call("POST", conversationPath("messages"), { text });
      }
      box.value = "";
    } catch (error) {
      const hint = error.data && error.data.window && error.data.window.hint;
      showError(hint || error.message);
    }
    await refreshConversation();
  }
  $("#composer").addEventListener("submit", (event) => { event.preventDefault(); send(); });
  T("composer").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); send(); return; }
    if (!state.current) return;
    sendPresence(state.current, "typing");
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(() => sendPresence(state.current, "viewing"), 3000);
  });
  T("add-note").addEventListener("click", async () => {
    const box = T("composer");
    const body = box.value.trim();
    if (!body) return;
    await act("notes", { body });
    box.value = "";
  });

  // ---- profile, orders, cart -----------------------------------------------------------
  async function loadSide(act) {
    let profile, cart;
    try {
      profile = await call("GET", conversationPath("profile"));
      cart = await call("GET", conversationPath("cart"));
    } catch (_) { return; }
    const facts = T("profile-facts");
    facts.replaceChildren();
    const fact = (name, value, id) => {
      if (value === null || value === undefined || value === "") return;
      facts.append(el("dt", {}, name));
      facts.append(el("dd", id ? { "data-testid": id } : {}, typeof value === "object" ? JSON.stringify(value) : value));
    };
    fact("Name", profile.contact.display_name);
    fact("Email", profile.contact.email);
    fact("Phone", profile.contact.phone);
    fact("Language", profile.contact.locale);
    fact("Journey", profile.journey_stage, "journey");
    if (Object.keys(profile.preferences).length) fact("Preferences", profile.preferences, "preferences");
    if (Object.keys(profile.consent).length) fact("Consent", profile.consent, "consent");
    if (profile.csat) {
      fact("Rating", profile.csat.score ? `${profile.csat.score} / 5` : "asked, no answer yet", "csat-score");
    }
    const orders = T("orders");
    orders.replaceChildren();
    for (const o of profile.orders) {
      const item = el("li", { "data-order-id": o.id, "data-order-status": o.status });
      const last = o.payments[o.payments.length - 1];
      item.append(el("span", {}, `${o.number} · ${o.status} · ${money(o.total)}${last ? ` · payment ${last.status}` : ""}`));
      if (can("orders:refund") && ["paid", "fulfilled", "shipped", "delivered", "returned"].includes(o.status)) {
        item.append(button("Refund", { "data-testid": "refund" }, async () => {
          showError("");
          try { await call("POST", `${API}/orders/${encodeURIComponent(o.id)}/refund`, {}); } catch (e) { showError(e.message); }
          await loadSide(act);
        }));
      }
      orders.append(item);
    }
    const past = T("past-conversations");
    past.replaceChildren(...profile.past_conversations.map((c) =>
      el("li", {}, `${c.created_at.slice(0, 10)} · ${c.status}${c.close_reason ? ` · ${c.close_reason}` : ""}`)));
    renderCart(cart, act);
  }

  function renderCart(cart, act) {
    const lines = T("cart-lines");
    lines.replaceChildren();
    for (const line of cart.lines) {
      const item = el("li", { "data-variant-id": line.variant_id }, `${line.title} × ${line.quantity} · ${money(line.total)}`);
      if (act) {
        item.append(button("+", { "aria-label": "One more" }, () => setLine(line.variant_id, line.quantity + 1)));
        item.append(button("−", { "aria-label": "One less" }, () => setLine(line.variant_id, line.quantity - 1)));
      }
      lines.append(item);
    }
    T("cart-total").textContent = cart.lines.length ? `Total ${money(cart.total)}` : "The cart is empty.";
    const shipping = T("shipping-method");
    shipping.replaceChildren(
      el("option", { value: "" }, "shipping…"),
      ...(cart.shipping_methods || []).map((m) => el("option", { value: m.code }, `${m.name} · ${money(m.price)}`)),
    );
    shipping.value = cart.shipping_method || "";
    shipping.disabled = !act;
    T("payment-link").disabled = !act || !cart.lines.length;
  }

  async function setLine(variantId, quantity) {
    showError("");
    try {
      await call("POST", conversationPath("cart/lines"), { variant_id: variantId, quantity: Math.max(0, quantity) });
    } catch (error) { showError(error.message); }
    await loadSide(state.detail && state.detail.can_act);
  }

  T("shipping-method").addEventListener("change", async (event) => {
    showError("");
    try {
      await call("POST", conversationPath("cart"), { shipping_method: event.target.value || null });
    } catch (error) { showError(error.message); }
    await loadSide(true);
  });

  $("#catalog-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = T("catalog-query").value.trim();
    let found;
    try {
      found = await call("GET", `${conversationPath("catalog")}?q=${encodeURIComponent(q)}`);
    } catch (error) { showError(error.message); return; }
    const results = T("catalog-results");
    results.replaceChildren();
    for (const hit of found.hits) {
      const item = el("li", { "data-product-id": hit.id });
      const label = el("label");
      label.append(el("input", { type: "checkbox", value: hit.id, "data-testid": "pick-product" }));
      label.append(el("span", {}, ` ${hit.title} · ${money(hit.price_from)}`));
      item.append(label);
      const variant = hit.variants.find((v) => v.in_stock);
      if (variant) {
        item.append(button("Add to cart", { "data-testid": "add-to-cart", "data-variant-id": variant.id }, () =>
          setLine(variant.id, 1 + quantityOf(variant.id))));
      }
      results.append(item);
    }
    if (!found.hits.length) results.append(el("li", {}, "No products found."));
  });

  function quantityOf(variantId) {
    const line = document.querySelector(`[data-testid="cart-lines"] [data-variant-id="${CSS.escape(variantId)}"]`);
    const match = line && line.textContent.match(/× (\d+)/);
    return match ? Number(match[1]) : 0;
  }

  T("send-products").addEventListener("click", async () => {
    const ids = [...document.querySelectorAll('[data-testid="pick-product"]:checked')].map((x) => x.value);
    if (!ids.length) { showError("Pick one or more products first."); return; }
    await act("products", { product_ids: ids.slice(0, 10) });
  });

  T("payment-link").addEventListener("click", () => act("payment-link", {}));

  // ---- keyboard --------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
    if (typing || event.ctrlKey || event.metaKey || event.altKey || $("#app").hidden) return;
    const items = [...document.querySelectorAll("[data-conversation-id]")];
    const at = items.findIndex((x) => x.dataset.conversationId === state.current);
    if (event.key === "j" || event.key === "k") {
      const next = items[Math.min(items.length - 1, Math.max(0, at + (event.key === "j" ? 1 : -1)))];
      if (next) { next.focus(); openConversation(next.dataset.conversationId); }
    } else if (event.key === "t" && state.current && !T("take").hidden) {
      act("take");
    } else if (event.key === "r" && state.current && !T("composer").disabled) {
      event.preventDefault(); T("composer").focus();
    }
  });

  // ---- presence ------------------------------------------------------------------------
  function sendPresence(conversationId, presence) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN && conversationId) {
      state.ws.send(JSON.stringify({ type: "presence", conversation_id: conversationId, state: presence }));
    }
  }

  function renderPresence() {
    const names = [];
    for (const [, p] of state.presence) {
      if (p.conversation_id === state.current && p.state !== "left") {
        names.push(`${p.display_name} is ${p.state === "typing" ? "typing" : "viewing"}`);
      }
    }
    T("presence").textContent = names.join(", ");
  }

  function onPresence(frame) {
    const known = state.presence.get(frame.agent_id);
    if (frame.state === "left") state.presence.delete(frame.agent_id);
    else state.presence.set(frame.agent_id, frame);
    // A colleague just arrived where I am: tell them I am here too.
    if (!known && frame.state !== "left" && frame.conversation_id === state.current) {
      sendPresence(state.current, "viewing");
    }
    renderPresence();
  }

  // ---- live events ---------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/inbox/ws?last_event_id=${state.lastEventId}`);
    state.ws = ws;
    const status = T("connection");
    ws.addEventListener("message", (message) => {
      let frame;
      try { frame = JSON.parse(message.data); } catch (_) { return; }
      if (frame.type === "ready") {
        state.lastEventId = frame.last_event_id; state.retry = 500;
        status.textContent = "live"; status.dataset.state = "live";
        if (state.current) sendPresence(state.current, "viewing");
        onEvent(null);  // catch up with whatever happened while disconnected
      } else if (frame.type === "event") {
        state.lastEventId = Math.max(state.lastEventId, frame.event.id);
        if (status.dataset.state === "live") onEvent(frame.event);
      } else if (frame.type === "presence") {
        onPresence(frame);
      }
    });
    ws.addEventListener("close", (event) => {
      status.textContent = "reconnecting…"; status.dataset.state = "offline";
      if (event.code === 4401) { location.reload(); return; }
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 10000);
    });
  }

  let pending = null;
  function onEvent(event) {
    if (event && (event.type === "sla_warning" || event.type === "sla_breached")) {
      const alert = T("sla-alert");
      alert.textContent = `${event.type === "sla_breached" ? "SLA breached" : "SLA warning"}: ${event.sla.kind} response`;
      alert.dataset.conversationId = event.conversation_id;
    }
    // Coalesce bursts: one refresh of the list (and the open conversation) per tick.
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      await loadList();
      if (state.current) await refreshConversation();
    }, 50);
  }

  setInterval(() => { if (state.current) sendPresence(state.current, "viewing"); }, 15000);
  if (Files) Files.init(showError);
  start();
})();
