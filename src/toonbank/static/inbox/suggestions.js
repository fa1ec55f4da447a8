// Reply suggestions, canned responses and the learning review for the Toonbank inbox.
// Loaded next to inbox.js; inbox.js calls ToonbankSuggestions.show(...) after every refresh of
// the open conversation. Everything from the server is rendered with textContent.
"use strict";
(() => {
  const API = "/api/v1/inbox";
  const $ = (sel) => document.querySelector(sel);
  const state = { conversationId: null, canAct: false, editing: false, shown: "", me: null };

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
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function report(message) {
    const box = $('[data-testid="suggestions-error"]');
    if (box) box.textContent = message || "";
  }

  function describe(source) {
    if (source.type === "answer") return `learned from “${source.question}”`;
    if (source.type === "order") {
      const track = source.tracking_number ? `, ${source.carrier || ""} ${source.tracking_number}` : "";
      return `order ${source.number} (${source.status}${track})`;
    }
    if (source.type === "cart") return `open cart: ${source.items} item(s), ${source.total}`;
    if (source.type === "canned") return `canned response ${source.shortcut || source.title}`;
    if (source.type === "knowledge") return `article “${source.title}”`;
    if (source.type === "generated") return `drafted by ${source.provider}`;
    return source.type;
  }

  function conversationPath(suffix) {
    return `${API}/conversations/${encodeURIComponent(state.conversationId)}/suggestions${suffix || ""}`;
  }

  async function decide(suggestion, action, text) {
    report("");
    try {
      if (action === "reject") {
        await call("POST", conversationPath(`/${encodeURIComponent(suggestion.id)}/reject`));
      } else {
        await call("POST", conversationPath(`/${encodeURIComponent(suggestion.id)}/send`),
          text === undefined ? {} : { text });
      }
    } catch (error) {
      report(error.message);
    }
    state.editing = false;
    state.shown = "";
    await load();
  }

  function renderCard(suggestion) {
    const item = el("li", {
      class: "suggestion", "data-suggestion-id": suggestion.id, "data-status": suggestion.status,
      "data-testid": "suggestion",
    });
    item.append(el("div", { class: "text", "data-testid": "suggestion-text" }, suggestion.text));
    const sources = el("div", { class: "sources", "data-testid": "suggestion-sources" });
    for (const source of suggestion.sources) sources.append(el("span", { "data-source-type": source.type }, describe(source)));
    item.append(sources);
    if (!state.canAct || suggestion.status !== "open") {
      if (suggestion.status !== "open") item.append(el("div", { class: "meta" }, suggestion.status));
      return item;
    }
    const actions = el("div", { class: "actions" });
    const send = el("button", { type: "button", "data-testid": "suggestion-send" }, "Send");
    const edit = el("button", { type: "button", "data-testid": "suggestion-edit" }, "Edit");
    const reject = el("button", { type: "button", "data-testid": "suggestion-reject" }, "Reject");
    send.addEventListener("click", () => decide(suggestion, "send"));
    reject.addEventListener("click", () => decide(suggestion, "reject"));
    edit.addEventListener("click", () => {
      state.editing = true;
      const box = el("textarea", { rows: "3", "data-testid": "suggestion-editor", maxlength: "4096" });
      box.value = suggestion.text;
      const done = el("button", { type: "button", "data-testid": "suggestion-send-edited" }, "Send edited");
      const cancel = el("button", { type: "button" }, "Cancel");
      done.addEventListener("click", () => {
        const text = box.value.trim();
        if (text) decide(suggestion, "send", text);
      });
      cancel.addEventListener("click", () => { state.editing = false; state.shown = ""; load(); });
      actions.replaceChildren(done, cancel);
      item.insertBefore(box, actions);
      box.focus();
    });
    actions.append(send, edit, reject);
    item.append(actions);
    return item;
  }

  async function load() {
    const box = $("#suggestions");
    if (!box || !state.conversationId || state.editing) return;
    let data;
    try {
      data = await call("GET", conversationPath());
    } catch (error) {
      if (error.status === 404) { box.replaceChildren(); return; }
      report(error.message);
      return;
    }
    const key = JSON.stringify([state.canAct, data.suggestions.map((s) => [s.id, s.status])]);
    if (key === state.shown || state.editing) return;
    state.shown = key;
    const list = el("ol", { "data-testid": "suggestion-list" });
    for (const suggestion of data.suggestions) list.append(renderCard(suggestion));
    const heading = el("strong", {}, data.suggestions.length ? "Suggested replies" : "No suggestions");
    box.replaceChildren(heading, list, el("p", { class: "error", "data-testid": "suggestions-error", role: "alert" }));
    box.hidden = false;
  }

  // ---- canned responses --------------------------------------------------------------------
  async function searchCanned(query) {
    const list = $('[data-testid="canned-results"]');
    if (!list) return;
    const rows = query ? await call("GET", `${API}/canned?q=${encodeURIComponent(query)}`) : [];
    list.replaceChildren();
    for (const row of rows.slice(0, 8)) {
      const button = el("button", { type: "button", "data-canned-id": row.id }, row.shortcut || row.title);
      button.addEventListener("click", async () => {
        const rendered = await call("POST", `${API}/canned/${encodeURIComponent(row.id)}/render`,
          { conversation_id: state.conversationId });
        const composer = $('[data-testid="composer"]');
        if (composer) { composer.value = rendered.text; composer.focus(); }
        const notes = [...rendered.unknown.map((v) => `unknown {{${v}}}`), ...rendered.missing.map((v) => `no value for {{${v}}}`)];
        report(notes.join(", "));
      });
      list.append(el("li")).append(button);
    }
  }

  function cannedPicker() {
    const wrap = el("div", { class: "canned" });
    const input = el("input", { "data-testid": "canned-search", placeholder: "Canned response (/shortcut)", maxlength: "100" });
    input.addEventListener("input", () => searchCanned(input.value.trim()).catch((e) => report(e.message)));
    wrap.append(input, el("ul", { "data-testid": "canned-results" }));
    return wrap;
  }

  // ---- learning review (supervisors and up) -------------------------------------------------
  async function openLearning() {
    const panel = $("#learning");
    const data = await call("GET", `${API}/learning/answers?limit=200`);
    const list = el("ul", { "data-testid": "learned-list" });
    for (const entry of data.answers) {
      const item = el("li", { "data-answer-id": entry.id });
      item.append(el("div", { class: "meta" }, `${entry.language || "?"} · ${entry.learned_from} · ✓${entry.accepted} ✎${entry.edited} ✗${entry.rejected}`));
      item.append(el("div", {}, `Q: ${entry.question}`));
      item.append(el("div", { "data-testid": "learned-answer" }, `A: ${entry.answer}`));
      const remove = el("button", { type: "button", "data-testid": "learned-remove" }, "Remove");
      remove.addEventListener("click", async () => {
        await call("DELETE", `${API}/learning/answers/${encodeURIComponent(entry.id)}`);
        await openLearning();
      });
      item.append(remove);
      list.append(item);
    }
    const close = el("button", { type: "button", "data-testid": "learning-close" }, "Close");
    close.addEventListener("click", () => { panel.hidden = true; });
    panel.replaceChildren(el("strong", {}, `Learned answers (${data.total})`), close, list);
    panel.hidden = false;
  }

  async function init() {
    try { state.me = await call("GET", `${API}/me`); } catch (_) { return; }
    const button = $('[data-testid="learning-open"]');
    if (button && state.me.permissions.includes("learning:review")) {
      button.hidden = false;
      button.addEventListener("click", () => openLearning().catch((e) => report(e.message)));
    }
    const slot = $("#canned");
    if (slot && !slot.firstChild) slot.append(cannedPicker());
  }

  window.ToonbankSuggestions = {
    /** Called by inbox.js whenever the open conversation was (re)loaded. */
    show(conversationId, detail) {
      if (conversationId !== state.conversationId) {
        state.editing = false; state.shown = "";
      }
      state.conversationId = conversationId;
      state.canAct = Boolean(detail && detail.can_act && detail.conversation.status !== "closed");
      if (!state.me) init();
      load();
    },
  };
})();
