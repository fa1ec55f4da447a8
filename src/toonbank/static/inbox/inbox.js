// Toonbank agent inbox. No build step, no dependencies. Everything from the server is
// rendered with textContent (never innerHTML), so message text can never become markup.
"use strict";
(() => {
  const API = "/api/v1/inbox";
  const $ = (sel) => document.querySelector(sel);
  const state = {
    me: null, view: "queue", current: null, detail: null, lastEventId: 0, ws: null,
    presence: new Map(), retry: 500, typingTimer: null,
  };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

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

  function showError(message) { $('[data-testid="error"]').textContent = message || ""; }

  // ---- login ---------------------------------------------------------------------------
  async function start() {
    try {
      state.me = await call("GET", `${API}/me`);
    } catch (_) {
      $("#login").hidden = false; $("#app").hidden = true;
      return;
    }
    $("#login").hidden = true; $("#app").hidden = false;
    $('[data-testid="me"]').textContent = `${state.me.display_name} (${state.me.role})`;
    $('[data-testid="availability"]').value = state.me.availability;
    $('[data-testid="tab-all"]').hidden = !state.me.permissions.includes("conversations:all");
    await selectView(state.view);
    connect();
  }

  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await call("POST", "/auth/login", {
        workspace: form.get("workspace"), email: form.get("email"), password: form.get("password"),
      });
      $('[data-testid="login-error"]').textContent = "";
      await start();
    } catch (error) {
      $('[data-testid="login-error"]').textContent = error.message;
    }
  });

  $('[data-testid="logout"]').addEventListener("click", async () => {
    await call("POST", "/auth/logout");
    if (state.ws) state.ws.close();
    location.reload();
  });

  $('[data-testid="availability"]').addEventListener("change", async (event) => {
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

  async function loadList() {
    const rows = await call("GET", `${API}/conversations?view=${encodeURIComponent(state.view)}`);
    const list = $('[data-testid="conversation-list"]');
    list.replaceChildren();
    for (const row of rows) {
      const item = el("li", {
        "data-conversation-id": row.id, "data-status": row.status, tabindex: "0",
        "aria-current": String(row.id === state.current),
      });
      item.append(el("strong", {}, row.contact.display_name || "Customer"));
      item.append(el("div", { class: "meta" }, `${row.channel || "?"} · ${row.status}`));
      item.addEventListener("click", () => openConversation(row.id));
      item.addEventListener("keydown", (e) => { if (e.key === "Enter") openConversation(row.id); });
      list.append(item);
    }
  }

  $('[data-testid="take-next"]').addEventListener("click", async () => {
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
    await refreshConversation();
    sendPresence(id, "viewing");
    for (const item of document.querySelectorAll("[data-conversation-id]")) {
      item.setAttribute("aria-current", String(item.dataset.conversationId === id));
    }
  }

  async function refreshConversation() {
    if (!state.current) return;
    let detail;
    try {
      detail = await call("GET", `${API}/conversations/${encodeURIComponent(state.current)}`);
    } catch (error) {
      if (error.status === 404) { closePanel(); return; }
      throw error;
    }
    state.detail = detail;
    const c = detail.conversation;
    $("#conversation").hidden = false;
    $('[data-testid="conversation-title"]').textContent = c.contact.display_name || "Customer";
    $('[data-testid="conversation-status"]').textContent = `${c.status} · ${c.channel || ""}`;
    $("#conversation").dataset.status = c.status;
    const mine = c.status === "assigned" && c.assigned_agent_id === state.me.id;
    $('[data-testid="take"]').hidden = !(c.status === "queued" || c.status === "bot");
    $('[data-testid="hand-back"]').hidden = !detail.can_act || c.status === "closed";
    $('[data-testid="close"]').hidden = !detail.can_act || c.status === "closed";
    $('[data-testid="composer"]').disabled = !detail.can_act || c.status === "closed";
    $('[data-testid="send"]').disabled = !detail.can_act || c.status === "closed";
    $('[data-testid="composer"]').placeholder = mine || detail.can_act
      ? "Reply to the customer (Ctrl+Enter sends)" : "Take the conversation to reply";
    const history = $('[data-testid="history"]');
    history.replaceChildren();
    for (const m of detail.history) history.append(renderMessage(m));
    history.lastElementChild && history.lastElementChild.scrollIntoView({ block: "end" });
    const notes = $('[data-testid="notes"]');
    notes.replaceChildren();
    for (const n of detail.notes) notes.append(el("li", { "data-note-id": n.id }, n.body));
    const w = detail.window;
    $('[data-testid="window"]').textContent = w.open ? "" : (w.hint || "The customer cannot be reached.");
    renderPresence();
    if (window.ToonbankSuggestions) window.ToonbankSuggestions.show(state.current, detail);
  }

  function renderMessage(m) {
    const item = el("li", {
      class: "msg", "data-message-id": m.id, "data-direction": m.direction, "data-sender": m.sender,
    });
    const content = m.content || {};
    const text = content.text ?? content.caption ?? content.title ?? content.fallback_text ?? `[${content.type}]`;
    item.append(el("div", { class: "text" }, text));
    item.append(el("div", { class: "meta" }, `${m.sender} · ${m.channel || ""} · ${m.status}`));
    return item;
  }

  function closePanel() {
    state.current = null; state.detail = null;
    $("#conversation").hidden = true;
  }

  async function act(path, body) {
    showError("");
    try {
      await call("POST", `${API}/conversations/${encodeURIComponent(state.current)}/${path}`, body);
    } catch (error) {
      showError(error.message);
    }
    await refreshConversation();
    await loadList();
  }

  $('[data-testid="take"]').addEventListener("click", () => act("take"));
  $('[data-testid="hand-back"]').addEventListener("click", () => act("hand-back"));
  $('[data-testid="close"]').addEventListener("click", () => {
    const reason = $('[data-testid="close-reason"]').value.trim() || "resolved";
    return act("close", { reason });
  });

  async function send() {
    const box = $('[data-testid="composer"]');
    const text = box.value.trim();
    if (!text) return;
    showError("");
    try {
      await call("POST", `${API}/conversations/${encodeURIComponent(state.current)}/messages`, { text });
      box.value = "";
    } catch (error) {
      const hint = error.data && error.data.window && error.data.window.hint;
      showError(hint || error.message);
    }
    await refreshConversation();
  }
  $("#composer").addEventListener("submit", (event) => { event.preventDefault(); send(); });
  $('[data-testid="composer"]').addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); send(); return; }
    if (!state.current) return;
    sendPresence(state.current, "typing");
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(() => sendPresence(state.current, "viewing"), 3000);
  });
  $('[data-testid="add-note"]').addEventListener("click", async () => {
    const box = $('[data-testid="composer"]');
    const body = box.value.trim();
    if (!body) return;
    await act("notes", { body });
    box.value = "";
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
    $('[data-testid="presence"]').textContent = names.join(", ");
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
    const status = $('[data-testid="connection"]');
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
    // Coalesce bursts: one refresh of the list (and the open conversation) per tick.
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      await loadList();
      if (state.current) await refreshConversation();
    }, 50);
  }

  setInterval(() => { if (state.current) sendPresence(state.current, "viewing"); }, 15000);
  start();
})();
