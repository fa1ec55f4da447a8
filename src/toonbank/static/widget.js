/*!
 * Toonbank web-chat widget.
 *
 * Embed with one tag:
 *   <script src="https://HOST/webchat/widget.js" data-connection="CONNECTION_ID" async></script>
 * Optional attributes: data-title, data-open="true", data-lang.
 *
 * Vanilla ES2020, no dependencies. Everything lives in an open Shadow DOM attached to
 * <div id="toonbank-widget">. Message data is only ever put into the page with textContent /
 * setAttribute on validated values — never innerHTML. Protocol: docs/webchat-protocol.md.
 */
(() => {
  'use strict';

  if (window.ToonbankWidget) return; // the script was included twice

  // ---------------------------------------------------------------------------------------
  // Configuration: everything is derived from our own <script> element.
  // ---------------------------------------------------------------------------------------
  const SCRIPT_PATH = '/webchat/widget.js';
  const pathOf = (src) => {
    try { return new URL(src, location.href).pathname; } catch { return ''; }
  };
  const script = (document.currentScript && pathOf(document.currentScript.src).endsWith(SCRIPT_PATH))
    ? document.currentScript
    : Array.from(document.querySelectorAll('script[src]')).find((s) => pathOf(s.src).endsWith(SCRIPT_PATH));
  if (!script) { console.warn('[toonbank] cannot find the widget <script> element'); return; }

  const connection = (script.dataset.connection || '').trim();
  if (!connection) { console.warn('[toonbank] the widget needs a data-connection attribute'); return; }

  const scriptUrl = new URL(script.src, location.href);
  // "https://host/prefix/webchat/widget.js" → "https://host/prefix"
  const BASE = scriptUrl.origin + scriptUrl.pathname.slice(0, -SCRIPT_PATH.length);
  const WS_BASE = BASE.replace(/^http/, 'ws'); // http→ws, https→wss
  const API = `${BASE}/webchat/${encodeURIComponent(connection)}`;
  const TITLE = script.dataset.title || 'Chat with us';
  const START_OPEN = script.dataset.open === 'true';
  let LANG = script.dataset.lang || document.documentElement.lang || navigator.language || 'en';
  try { new Intl.NumberFormat(LANG); } catch { LANG = 'en'; }

  const KEY_TOKEN = `toonbank:${connection}:token`;
  const KEY_OUTBOX = `toonbank:${connection}:outbox`;
  const MAX_UPLOAD = 5 * 1024 * 1024;
  const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
  const MAX_TEXT = 4096;
  const PING_EVERY = 25000;
  const DEAD_AFTER = 60000; // no frame at all for this long → the socket is dead
  const OUTBOX_MAX_AGE = 24 * 3600 * 1000;
  const SENDER_LABEL = { bot: 'Assistant', agent: 'Agent', system: 'Notice' };

  // ---------------------------------------------------------------------------------------
  // Storage (localStorage may be unavailable, e.g. blocked third-party storage).
  // ---------------------------------------------------------------------------------------
  const memory = new Map();
  const store = {
    get(key) { try { return localStorage.getItem(key); } catch { return memory.has(key) ? memory.get(key) : null; } },
    set(key, value) { try { localStorage.setItem(key, value); } catch { memory.set(key, value); } },
    remove(key) { try { localStorage.removeItem(key); } catch { memory.delete(key); } },
  };

  /** Unacknowledged outgoing messages: [{client_id, content, created_at}], oldest first. */
  function readOutbox() {
    try {
      const list = JSON.parse(store.get(KEY_OUTBOX) || '[]');
      if (!Array.isArray(list)) return [];
      return list.filter((e) => e && typeof e.client_id === 'string' && e.content && typeof e.content === 'object'
        && !(typeof e.created_at === 'number' && Date.now() - e.created_at > OUTBOX_MAX_AGE));
    } catch { return []; }
  }
  function writeOutbox(list) {
    if (list.length) store.set(KEY_OUTBOX, JSON.stringify(list.slice(-50)));
    else store.remove(KEY_OUTBOX);
  }
  // Always re-read before writing so that several tabs clobber each other as little as possible.
  function outboxAdd(entry) {
    const list = readOutbox().filter((e) => e.client_id !== entry.client_id);
    list.push(entry);
    writeOutbox(list);
  }
  function outboxRemove(clientId) {
    const list = readOutbox();
    const kept = list.filter((e) => e.client_id !== clientId);
    if (kept.length !== list.length) writeOutbox(kept);
  }

  // ---------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------
  function uuid4() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** Build an element. attrs values are set with setAttribute; children may be strings (→ text). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'text') node.textContent = String(value);
      else node.setAttribute(name, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  /** Only http(s) and relative URLs are allowed; relative ones are resolved against BASE. */
  function safeUrl(raw) {
    if (typeof raw !== 'string' || !raw.trim()) return null;
    const value = raw.trim();
    try {
      const url = value.startsWith('/') && !value.startsWith('//')
        ? new URL(BASE + value)
        : new URL(value, `${BASE}/`);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
    } catch { return null; }
  }

  function link(href, text, cls) {
    const url = safeUrl(href);
    if (!url) return el('span', { class: cls, text });
    return el('a', { class: cls, href: url, target: '_blank', rel: 'noopener noreferrer', text });
  }

  const fractionDigits = new Map();
  /** Integer minor units + ISO currency → localized string. */
  function money(amount, currency) {
    if (typeof amount !== 'number' || typeof currency !== 'string') return '';
    try {
      if (!fractionDigits.has(currency)) {
        fractionDigits.set(currency, new Intl.NumberFormat('en', { style: 'currency', currency })
          .resolvedOptions().maximumFractionDigits);
      }
      const value = amount / 10 ** fractionDigits.get(currency);
      return new Intl.NumberFormat(LANG, { style: 'currency', currency }).format(value);
    } catch {
      return `${(amount / 100).toFixed(2)} ${currency}`;
    }
  }

  function timeOf(iso) {
    const d = iso ? new Date(iso) : new Date();
    if (Number.isNaN(d.getTime())) return '';
    try { return d.toLocaleTimeString(LANG, { hour: '2-digit', minute: '2-digit' }); } catch { return ''; }
  }

  const str = (v) => (typeof v === 'string' ? v : '');
  /** Message ids are integers (docs/webchat-protocol.md); the key used for them in maps and the DOM. */
  const idKey = (v) => ((typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && v) ? String(v) : null);

  // ---------------------------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------------------------
  const state = {
    token: store.get(KEY_TOKEN),
    visitorId: null,
    needSession: true,
    connecting: false, // a connect() is in progress (session request)
    ws: null,
    socketGen: 0, // bumps on every new socket; callbacks of older sockets are ignored
    ready: false, // replay finished on the current socket
    everReady: false,
    status: 'connecting',
    attempt: 0,
    failedOpens: 0,
    reconnectTimer: null,
    pingTimer: null,
    lastFrameAt: 0,
    lastEventId: 0, // highest event id processed (in memory only: a reload replays everything)
    eventIds: new Set(),
    messages: new Map(), // message id → element
    pending: new Map(), // client_id → {el, entry}
    earlyStatus: new Map(), // message id → status that arrived before its message
    open: false,
    unread: 0,
    pinned: true, // message list is scrolled to the bottom
    typingSent: false,
    typingOnAt: 0,
    typingIdle: null,
    botTypingTimer: null,
  };

  // ---------------------------------------------------------------------------------------
  // UI
  // ---------------------------------------------------------------------------------------
  const CSS = `
:host { all: initial; }
* { box-sizing: border-box; }
.root { --accent: #6d28d9; --accent-dark: #5b21b6; --bg: #fff; --muted: #6b7280; --line: #e5e7eb;
  --bubble-out: #f3f4f6; --bubble-in: var(--accent);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #111827; }
button { font: inherit; cursor: pointer; }
button:disabled { cursor: default; opacity: .55; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
[hidden] { display: none !important; }
.launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 58px; height: 58px;
  border-radius: 50%; border: 0; background: var(--accent); color: #fff; display: grid; place-items: center;
  box-shadow: 0 6px 20px rgba(0,0,0,.25); transition: transform .15s; }
.launcher:hover { transform: scale(1.06); }
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.badge { position: absolute; top: -2px; right: -2px; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px;
  background: #dc2626; color: #fff; font-size: 12px; font-weight: 600; line-height: 20px; text-align: center; }
.panel { position: fixed; right: 20px; bottom: 90px; z-index: 2147483001; width: 360px; height: 520px;
  max-height: calc(100vh - 110px); background: var(--bg); border-radius: 14px; overflow: hidden;
  box-shadow: 0 12px 40px rgba(0,0,0,.25); display: flex; flex-direction: column; }
@media (max-width: 480px) {
  .panel { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }
  .root.is-open .launcher { display: none; }
}
header { background: var(--accent); color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 10px; }
.head-text { flex: 1; min-width: 0; }
h2 { margin: 0; font-size: 16px; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.status { font-size: 12px; opacity: .9; display: flex; align-items: center; gap: 5px; }
.status::before { content: ""; width: 7px; height: 7px; border-radius: 50%; background: #fbbf24; }
.status[data-state="open"]::before { background: #34d399; }
.status[data-state="unavailable"]::before { background: #f87171; }
.close { background: transparent; border: 0; color: #fff; width: 32px; height: 32px; border-radius: 8px; font-size: 20px; line-height: 1; }
.close:hover { background: rgba(255,255,255,.15); }
.list { flex: 1; overflow-y: auto; padding: 14px 12px 6px; display: flex; flex-direction: column; gap: 10px;
  background: #fafafa; overscroll-behavior: contain; }
.msg { display: flex; flex-direction: column; max-width: 85%; }
.msg.out { align-self: flex-start; align-items: flex-start; }
.msg.in { align-self: flex-end; align-items: flex-end; }
.sender { font-size: 11px; color: var(--muted); margin: 0 4px 2px; }
.bubble { padding: 8px 12px; border-radius: 14px; word-wrap: break-word; overflow-wrap: anywhere; max-width: 100%; }
.out .bubble { background: var(--bubble-out); border-bottom-left-radius: 4px; }
.in .bubble { background: var(--bubble-in); color: #fff; border-bottom-right-radius: 4px; }
.in .bubble a { color: #fff; }
.msg[data-pending="true"] .bubble { opacity: .7; }
.msg[data-failed="true"] .bubble { background: #fee2e2; color: #7f1d1d; }
.text { white-space: pre-wrap; margin: 0; }
.text.lead { margin-bottom: 6px; }
.meta { font-size: 11px; color: var(--muted); margin: 2px 4px 0; display: flex; gap: 6px; align-items: center; }
.meta button { background: none; border: 0; padding: 0; color: var(--accent); text-decoration: underline; font-size: 11px; }
.options { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.opt { border: 1px solid var(--accent); background: #fff; color: var(--accent); border-radius: 16px; padding: 5px 12px; }
.opt:hover:not(:disabled) { background: var(--accent); color: #fff; }
.opt[data-chosen="true"] { background: var(--accent); color: #fff; opacity: .8; }
.media-img { display: block; max-width: 100%; max-height: 240px; border-radius: 10px; }
audio, video { max-width: 100%; display: block; }
.caption { margin-top: 6px; white-space: pre-wrap; }
.small { font-size: 12px; color: var(--muted); }
.in .small { color: rgba(255,255,255,.85); }
.list-rows { margin-top: 8px; border-top: 1px solid var(--line); }
.list-section { font-size: 12px; font-weight: 600; color: var(--muted); margin: 8px 0 2px; text-transform: uppercase; }
.row { display: block; width: 100%; text-align: left; background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 6px 10px; margin-top: 4px; }
.row:hover:not(:disabled) { border-color: var(--accent); }
.row-desc { display: block; font-size: 12px; color: var(--muted); }
.bubble.rich { background: #fff !important; color: #111827 !important; border: 1px solid var(--line); padding: 10px; }
.product { width: 220px; flex: 0 0 auto; border: 1px solid var(--line); border-radius: 10px; overflow: hidden; background: #fff;
  display: flex; flex-direction: column; scroll-snap-align: start; }
.bubble > .product { width: 100%; }
.product-img { width: 100%; height: 140px; object-fit: cover; display: block; background: #f3f4f6; }
.product-body { padding: 8px 10px; display: flex; flex-direction: column; gap: 3px; }
.product-title { font-weight: 600; }
.price { font-weight: 600; color: var(--accent-dark); }
.carousel { display: flex; gap: 8px; overflow-x: auto; scroll-snap-type: x mandatory; padding-bottom: 6px; margin-top: 6px; }
.msg[data-content-type="carousel"] { max-width: 100%; }
.order table { width: 100%; border-collapse: collapse; margin: 6px 0; font-size: 13px; }
.order td { padding: 3px 0; vertical-align: top; }
.order td.num { text-align: right; white-space: nowrap; padding-left: 10px; }
.order tfoot td { border-top: 1px solid var(--line); }
.order tr.total td { font-weight: 700; font-size: 14px; }
.order-head { display: flex; justify-content: space-between; gap: 8px; font-weight: 600; }
.pill { font-size: 11px; font-weight: 600; background: #ede9fe; color: var(--accent-dark); padding: 1px 8px; border-radius: 10px; }
.amount { font-size: 22px; font-weight: 700; }
.pay { display: block; text-align: center; margin-top: 8px; padding: 9px 12px; border-radius: 8px; background: var(--accent);
  color: #fff !important; text-decoration: none; font-weight: 600; }
.pay:hover { background: var(--accent-dark); }
.typing { padding: 4px 16px 6px; background: #fafafa; font-size: 12px; color: var(--muted); display: flex; align-items: center; gap: 6px; }
.dots { display: inline-flex; gap: 3px; background: var(--bubble-out); padding: 8px 10px; border-radius: 12px; }
.dots span { width: 6px; height: 6px; border-radius: 50%; background: #9ca3af; animation: blink 1.2s infinite ease-in-out; }
.dots span:nth-child(2) { animation-delay: .2s; } .dots span:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 80%, 100% { opacity: .3; transform: translateY(0); } 40% { opacity: 1; transform: translateY(-3px); } }
@media (prefers-reduced-motion: reduce) { .dots span { animation: none; } .launcher { transition: none; } }
.notice { background: #fef2f2; color: #991b1b; font-size: 12px; padding: 6px 12px; border-top: 1px solid #fecaca; }
form { display: flex; align-items: flex-end; gap: 6px; padding: 8px; border-top: 1px solid var(--line); background: #fff; }
textarea { flex: 1; resize: none; border: 1px solid var(--line); border-radius: 10px; padding: 8px 10px; font: inherit;
  max-height: 110px; min-height: 38px; outline: none; color: inherit; background: #fff; }
textarea:focus { border-color: var(--accent); }
.icon { width: 38px; height: 38px; border-radius: 10px; border: 0; display: grid; place-items: center; flex: 0 0 auto; }
.icon svg { width: 20px; height: 20px; fill: currentColor; }
.attach { background: transparent; color: var(--muted); }
.attach:hover:not(:disabled) { background: #f3f4f6; color: var(--accent); }
.send { background: var(--accent); color: #fff; }
.send:hover:not(:disabled) { background: var(--accent-dark); }
`;

  // Static icon paths (constants, never message data).
  const ICONS = {
    chat: 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8l-4 4V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z',
    send: 'M3 20.5 21 12 3 3.5 3 10l12 2-12 2z',
    image: 'M5 4h14a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm0 12.5V18h14v-3l-4-4-5 5-2-2-3 2.5zM8.5 10a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z',
  };
  function icon(name) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.append(path);
    return svg;
  }

  const ui = {};
  function buildUi() {
    const host = el('div', { id: 'toonbank-widget' });
    const shadow = host.attachShadow({ mode: 'open' });
    shadow.append(el('style', { text: CSS }));

    ui.badge = el('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
    ui.launcher = el('button', {
      class: 'launcher', type: 'button', 'data-testid': 'launcher', 'aria-label': 'Open chat',
      'aria-expanded': 'false', 'aria-controls': 'tb-panel',
    }, icon('chat'), ui.badge);

    ui.status = el('span', { class: 'status', 'data-testid': 'status', 'data-state': 'connecting', role: 'status', text: 'Connecting…' });
    ui.close = el('button', { class: 'close', type: 'button', 'aria-label': 'Close chat', text: '×' });
    ui.list = el('div', { class: 'list', role: 'log', 'aria-live': 'polite', 'aria-label': 'Messages', tabindex: '0' });
    ui.typingLabel = el('span', { text: 'Assistant is typing' });
    ui.typing = el('div', { class: 'typing', hidden: true, 'aria-hidden': 'true' },
      el('span', { class: 'dots' }, el('span'), el('span'), el('span')), ui.typingLabel);
    ui.notice = el('div', { class: 'notice', role: 'alert', hidden: true });
    ui.file = el('input', { type: 'file', accept: 'image/*', hidden: true, tabindex: '-1', 'aria-hidden': 'true' });
    ui.attach = el('button', { class: 'icon attach', type: 'button', 'aria-label': 'Send an image', title: 'Send an image' }, icon('image'));
    ui.composer = el('textarea', {
      'data-testid': 'composer', rows: '1', maxlength: String(MAX_TEXT), placeholder: 'Type a message…', 'aria-label': 'Message',
    });
    ui.send = el('button', { class: 'icon send', type: 'submit', 'data-testid': 'send', 'aria-label': 'Send message' }, icon('send'));
    ui.form = el('form', { 'aria-label': 'Send a message' }, ui.attach, ui.file, ui.composer, ui.send);
    ui.panel = el('section', { class: 'panel', id: 'tb-panel', role: 'dialog', 'aria-label': TITLE, hidden: true },
      el('header', {}, el('div', { class: 'head-text' }, el('h2', { text: TITLE }), ui.status), ui.close),
      ui.list, ui.typing, ui.notice, ui.form);
    ui.root = el('div', { class: 'root', lang: LANG }, ui.panel, ui.launcher);
    shadow.append(ui.root);
    document.body.append(host);

    // --- behaviour
    ui.launcher.addEventListener('click', () => setOpen(!state.open));
    ui.close.addEventListener('click', () => { setOpen(false); ui.launcher.focus(); });
    ui.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { setOpen(false); ui.launcher.focus(); }
    });
    ui.list.addEventListener('scroll', () => { state.pinned = nearBottom(); });
    ui.form.addEventListener('submit', (e) => { e.preventDefault(); submitText(); });
    ui.composer.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submitText(); }
    });
    ui.composer.addEventListener('input', () => { autosize(); onComposerInput(); });
    ui.composer.addEventListener('paste', (e) => {
      const item = Array.from((e.clipboardData && e.clipboardData.files) || []).find((f) => f.type.startsWith('image/'));
      if (item) { e.preventDefault(); uploadImage(item); }
    });
    ui.attach.addEventListener('click', () => ui.file.click());
    ui.file.addEventListener('change', () => {
      const file = ui.file.files && ui.file.files[0];
      ui.file.value = '';
      if (file) uploadImage(file);
    });
  }

  function setOpen(open) {
    state.open = open;
    ui.panel.hidden = !open;
    ui.root.classList.toggle('is-open', open);
    ui.launcher.setAttribute('aria-expanded', String(open));
    ui.launcher.setAttribute('aria-label', open ? 'Close chat' : 'Open chat');
    if (open) {
      state.unread = 0;
      updateBadge();
      scrollToBottom();
      ui.composer.focus({ preventScroll: true });
    }
  }

  function updateBadge() {
    ui.badge.hidden = state.unread === 0;
    ui.badge.textContent = state.unread > 9 ? '9+' : String(state.unread);
  }

  const STATUS_TEXT = { connecting: 'Connecting…', open: 'Online', reconnecting: 'Reconnecting…', unavailable: 'Chat unavailable' };
  function setStatus(status) {
    state.status = status;
    ui.status.setAttribute('data-state', status);
    ui.status.textContent = STATUS_TEXT[status] || status;
  }

  let noticeTimer = null;
  function notice(text) {
    ui.notice.textContent = text;
    ui.notice.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { ui.notice.hidden = true; }, 6000);
  }

  function autosize() {
    ui.composer.style.height = 'auto';
    ui.composer.style.height = `${Math.min(ui.composer.scrollHeight, 110)}px`;
  }

  const nearBottom = () => ui.list.scrollHeight - ui.list.scrollTop - ui.list.clientHeight < 80;
  function scrollToBottom() {
    ui.list.scrollTop = ui.list.scrollHeight;
    state.pinned = true;
  }
  /** Keep the list at the bottom after content changed, if the visitor was already there. */
  function stick() { if (state.pinned) scrollToBottom(); }

  // ---------------------------------------------------------------------------------------
  // Rendering of message content
  // ---------------------------------------------------------------------------------------

  /**
   * An option button (quick reply, list row, product/template button). Clicking sends a
   * `reply`; with `group` set, every button of that group is disabled afterwards.
   */
  function optionButton(option, group, cls = 'opt') {
    const title = str(option && option.title) || str(option && option.payload);
    const payload = str(option && option.payload);
    const button = el('button', { class: cls, type: 'button', 'data-payload': payload });
    button.append(el('span', { text: title }));
    if (cls === 'row' && option && option.description) button.append(el('span', { class: 'row-desc', text: str(option.description) }));
    if (!payload) button.disabled = true;
    button.addEventListener('click', () => {
      if (button.disabled) return;
      sendContent({ type: 'reply', payload, title });
      if (group) disableGroup(group, payload);
      else { button.disabled = true; setTimeout(() => { button.disabled = false; }, 1200); } // debounce only
    });
    return button;
  }

  function disableGroup(group, payload) {
    group.setAttribute('data-answered', 'true');
    for (const b of group.querySelectorAll('button[data-payload]')) {
      b.disabled = true;
      if (payload !== undefined && b.getAttribute('data-payload') === payload) b.setAttribute('data-chosen', 'true');
    }
  }

  function optionsRow(options, group) {
    const row = el('div', { class: 'options' });
    for (const option of Array.isArray(options) ? options : []) row.append(optionButton(option, group));
    return row;
  }

  function text(value, cls = 'text') { return el('p', { class: cls, text: str(value) }); }

  function productCard(p) {
    p = p && typeof p === 'object' ? p : {};
    const card = el('div', { class: 'product', 'data-product-id': str(p.id) || null });
    const img = safeUrl(p.image_url);
    if (img) card.append(el('img', { class: 'product-img', src: img, alt: str(p.title), loading: 'lazy' }));
    const body = el('div', { class: 'product-body' }, el('div', { class: 'product-title', text: str(p.title) }));
    if (p.subtitle) body.append(el('div', { class: 'small', text: str(p.subtitle) }));
    if (typeof p.price === 'number' && p.currency) body.append(el('div', { class: 'price', text: money(p.price, p.currency) }));
    if (safeUrl(p.url)) body.append(link(p.url, 'View product', 'small'));
    if (Array.isArray(p.buttons) && p.buttons.length) body.append(optionsRow(p.buttons, null));
    card.append(body);
    return card;
  }

  function renderMedia(c, bubble) {
    const url = safeUrl(c.url);
    const kind = str(c.kind);
    if (!url) bubble.append(text(`[${kind || 'media'} unavailable]`));
    else if (kind === 'image') {
      const img = el('img', { class: 'media-img', src: url, alt: str(c.caption) || 'Image', loading: 'lazy' });
      img.addEventListener('load', stick);
      bubble.append(el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, img));
    } else if (kind === 'audio') bubble.append(el('audio', { src: url, controls: true, preload: 'metadata' }));
    else if (kind === 'video') {
      const video = el('video', { src: url, controls: true, preload: 'metadata', playsinline: true });
      video.addEventListener('loadedmetadata', stick);
      bubble.append(video);
    } else {
      const a = link(url, `📎 ${str(c.filename) || 'Download file'}`);
      a.setAttribute('download', str(c.filename) || '');
      bubble.append(a);
    }
    if (c.caption) bubble.append(text(c.caption, 'caption'));
  }

  function renderLocation(c, bubble) {
    const lat = Number(c.latitude);
    const lon = Number(c.longitude);
    bubble.append(el('div', { class: 'product-title', text: `📍 ${str(c.name) || 'Location'}` }));
    if (c.address) bubble.append(el('div', { class: 'small', text: str(c.address) }));
    if (Number.isFinite(lat) && Number.isFinite(lon)) {
      const href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
      bubble.append(link(href, 'Open map', 'small'));
    }
  }

  function renderContact(c, bubble) {
    bubble.append(el('div', { class: 'product-title', text: `👤 ${str(c.name)}` }));
    // Phones and e-mails stay plain text (only http(s) links are ever generated).
    for (const phone of Array.isArray(c.phones) ? c.phones : []) bubble.append(el('div', { text: `📞 ${str(phone)}` }));
    for (const email of Array.isArray(c.emails) ? c.emails : []) bubble.append(el('div', { text: `✉️ ${str(email)}` }));
  }

  function renderList(c, bubble) {
    bubble.append(text(c.text));
    const rows = el('div', { class: 'list-rows', hidden: true });
    for (const section of Array.isArray(c.sections) ? c.sections : []) {
      if (section && section.title) rows.append(el('div', { class: 'list-section', text: str(section.title) }));
      for (const option of Array.isArray(section && section.options) ? section.options : []) {
        rows.append(optionButton(option, bubble, 'row'));
      }
    }
    const toggle = el('button', { class: 'opt', type: 'button', 'aria-expanded': 'false', text: `☰ ${str(c.button) || 'Choose'}` });
    toggle.addEventListener('click', () => {
      rows.hidden = !rows.hidden;
      toggle.setAttribute('aria-expanded', String(!rows.hidden));
      stick();
    });
    bubble.append(el('div', { class: 'options' }, toggle), rows);
  }

  function renderOrder(c, bubble) {
    const items = Array.isArray(c.items) ? c.items : [];
    const isOrder = c.kind === 'order';
    const head = el('div', { class: 'order-head' },
      el('span', { text: isOrder ? `🧾 Order${c.reference ? ` ${str(c.reference)}` : ''}` : `🛒 Your cart${c.reference ? ` (${str(c.reference)})` : ''}` }));
    if (c.status) head.append(el('span', { class: 'pill', text: str(c.status) }));
    const tbody = el('tbody');
    let subtotal = 0;
    for (const item of items) {
      const qty = Number(item && item.quantity) || 0;
      const line = qty * (Number(item && item.unit_price) || 0);
      subtotal += line;
      tbody.append(el('tr', {}, el('td', { text: `${qty} × ${str(item && item.title)}` }), el('td', { class: 'num', text: money(line, c.currency) })));
    }
    const tfoot = el('tfoot');
    const sumRow = (label, value, cls) => tfoot.append(el('tr', { class: cls }, el('td', { text: label }), el('td', { class: 'num', text: value })));
    if (c.shipping || c.discount) sumRow('Subtotal', money(subtotal, c.currency));
    if (c.shipping) sumRow('Shipping', money(c.shipping, c.currency));
    if (c.discount) sumRow('Discount', `−${money(c.discount, c.currency)}`);
    sumRow('Total', money(c.total, c.currency), 'total');
    bubble.append(el('div', { class: 'order' }, head, el('table', {}, tbody, tfoot)));
  }

  function renderPayment(c, bubble) {
    const amount = money(c.amount, c.currency);
    bubble.append(el('div', { class: 'small', text: 'Amount due' }), el('div', { class: 'amount', text: amount }));
    if (c.text) bubble.append(text(c.text));
    const url = safeUrl(c.url);
    if (url) bubble.append(el('a', { class: 'pay', href: url, target: '_blank', rel: 'noopener noreferrer', text: `Pay ${amount}` }));
    else bubble.append(el('div', { class: 'small', text: 'Payment link unavailable' }));
    if (c.expires_at) {
      const d = new Date(c.expires_at);
      if (!Number.isNaN(d.getTime())) bubble.append(el('div', { class: 'small', text: `Link expires ${d.toLocaleString(LANG)}` }));
    }
  }

  /** The content-type specific inside of a bubble. */
  function renderContent(c, bubble) {
    switch (c.type) {
      case 'text': bubble.append(text(c.text)); break;
      case 'reply': bubble.append(text(c.title || c.payload)); break;
      case 'media': renderMedia(c, bubble); break;
      case 'location': renderLocation(c, bubble); break;
      case 'contact': renderContact(c, bubble); break;
      case 'quick_replies':
        bubble.setAttribute('data-answerable', 'true');
        bubble.append(text(c.text), optionsRow(c.options, bubble));
        break;
      case 'list':
        bubble.setAttribute('data-answerable', 'true');
        renderList(c, bubble);
        break;
      case 'product':
        if (c.text) bubble.append(text(c.text, 'text lead'));
        bubble.classList.add('rich');
        bubble.append(productCard(c.product));
        break;
      case 'carousel': {
        if (c.text) bubble.append(text(c.text));
        const track = el('div', { class: 'carousel', tabindex: '0', role: 'group', 'aria-label': 'Products' });
        for (const p of Array.isArray(c.products) ? c.products : []) track.append(productCard(p));
        bubble.append(track);
        break;
      }
      case 'order_summary': bubble.classList.add('rich'); renderOrder(c, bubble); break;
      case 'payment_link': bubble.classList.add('rich'); renderPayment(c, bubble); break;
      case 'template':
        bubble.setAttribute('data-answerable', 'true');
        bubble.append(text(c.fallback_text || (c.name ? `[${str(c.name)}]` : '')));
        if (Array.isArray(c.buttons) && c.buttons.length) bubble.append(optionsRow(c.buttons, bubble));
        break;
      default:
        bubble.append(text(typeof c.text === 'string' ? c.text : 'This message cannot be displayed.'));
    }
  }

  /** One message row: sender label, bubble, meta line. */
  function renderMessage(m) {
    const content = m.content && typeof m.content === 'object' ? m.content : { type: 'unknown' };
    const dir = m.direction === 'in' ? 'in' : 'out';
    const row = el('div', {
      class: `msg ${dir}`,
      'data-message-id': idKey(m.id),
      'data-client-id': typeof m.client_id === 'string' ? m.client_id : null,
      'data-direction': dir,
      'data-content-type': str(content.type) || 'unknown',
      'data-status': typeof m.status === 'string' ? m.status : null,
    });
    if (dir === 'out') row.append(el('div', { class: 'sender', text: SENDER_LABEL[m.sender] || 'Assistant' }));
    const bubble = el('div', { class: 'bubble' });
    renderContent(content, bubble);
    const meta = el('div', { class: 'meta' }, el('time', { datetime: str(m.created_at) || null, text: timeOf(m.created_at) }));
    row.append(bubble, meta);
    const when = m.created_at ? new Date(m.created_at) : null;
    if (when && !Number.isNaN(when.getTime())) row.title = when.toLocaleString(LANG);
    return row;
  }

  function setMeta(row, label, retry) {
    const meta = row.querySelector('.meta');
    if (!meta) return;
    for (const n of meta.querySelectorAll('.state')) n.remove();
    if (!label) return;
    const span = el('span', { class: 'state', text: label });
    if (retry) {
      const b = el('button', { type: 'button', text: 'Retry', 'aria-label': 'Retry sending this message' });
      b.addEventListener('click', retry);
      span.append(' · ', b);
    }
    meta.append(span);
  }

  function applyStatus(row, status) {
    if (typeof status !== 'string') return;
    row.setAttribute('data-status', status);
    if (row.getAttribute('data-direction') === 'out') setMeta(row, status === 'failed' ? 'Not delivered' : '');
  }

  /** Server messages go before the visitor's still-pending bubbles (which stay at the bottom). */
  function insertServerRow(row) {
    const anchor = ui.list.querySelector(':scope > [data-pending="true"]:not([data-failed="true"])');
    ui.list.insertBefore(row, anchor);
  }

  /** After a visitor's reply, disable the options of the question it answered (also on replay). */
  function markAnswered(row, payload) {
    for (let node = row.previousElementSibling; node; node = node.previousElementSibling) {
      const bubble = node.classList.contains('out') && node.querySelector('.bubble[data-answerable]');
      if (!bubble) continue;
      const match = Array.from(bubble.querySelectorAll('button[data-payload]')).some((b) => b.getAttribute('data-payload') === payload);
      if (match) disableGroup(bubble, payload);
      return;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Events from the server
  // ---------------------------------------------------------------------------------------
  function handleEvent(event) {
    if (!event || typeof event.id !== 'number') return;
    if (state.eventIds.has(event.id)) return; // never process an event twice
    state.eventIds.add(event.id);
    if (event.id > state.lastEventId) state.lastEventId = event.id;
    if (event.type === 'message') handleMessage(event.message);
    else if (event.type === 'message_status') {
      const key = idKey(event.message_id);
      const row = key && state.messages.get(key);
      if (row) applyStatus(row, event.status);
      else if (key) state.earlyStatus.set(key, event.status);
    }
    // Other event types (conversation_opened, …) are not shown but still count as seen.
  }

  function handleMessage(m) {
    const key = m && typeof m === 'object' ? idKey(m.id) : null;
    if (!key) return;
    const row = renderMessage(m);
    const existing = state.messages.get(key);
    const own = typeof m.client_id === 'string' && m.direction === 'in';
    const pending = own ? state.pending.get(m.client_id) : null;
    if (own) {
      outboxRemove(m.client_id);
      state.pending.delete(m.client_id);
    }
    if (existing) {
      existing.replaceWith(row);
      if (pending) pending.el.remove();
    } else if (pending) {
      pending.el.replaceWith(row); // the pending bubble becomes the real message, in place
    } else {
      insertServerRow(row);
    }
    state.messages.set(key, row);
    if (state.earlyStatus.has(key)) { applyStatus(row, state.earlyStatus.get(key)); state.earlyStatus.delete(key); }
    else if (m.direction !== 'in' && m.status === 'failed') applyStatus(row, 'failed');
    const content = m.content || {};
    if (m.direction === 'in' && content.type === 'reply') markAnswered(row, str(content.payload));
    if (m.direction !== 'in') {
      showBotTyping(false);
      if (state.ready && !existing && !state.open) { state.unread += 1; updateBadge(); }
    }
    stick();
  }

  function showBotTyping(on, sender) {
    clearTimeout(state.botTypingTimer);
    ui.typing.hidden = !on;
    if (!on) return;
    ui.typingLabel.textContent = `${sender === 'agent' ? 'Agent' : 'Assistant'} is typing…`;
    state.botTypingTimer = setTimeout(() => { ui.typing.hidden = true; }, 8000);
    stick();
  }

  function handleFrame(frame) {
    switch (frame && frame.type) {
      case 'event': handleEvent(frame.event); break;
      case 'ready':
        state.ready = true;
        if (!state.everReady) scrollToBottom(); // after the first replay only
        state.everReady = true;
        state.attempt = 0;
        state.failedOpens = 0;
        setStatus('open');
        flushOutbox();
        break;
      case 'typing':
        if (frame.sender === 'bot' || frame.sender === 'agent') showBotTyping(frame.state === 'on', frame.sender);
        break;
      case 'ack': {
        if (typeof frame.client_id !== 'string') break;
        outboxRemove(frame.client_id); // stored; the message event will replace the bubble
        const pending = state.pending.get(frame.client_id);
        if (pending) { pending.el.setAttribute('data-acked', 'true'); setMeta(pending.el, 'Sent'); }
        break;
      }
      case 'error': handleError(frame); break;
      default: break; // pong and unknown frames
    }
  }

  function handleError(frame) {
    const detail = str(frame.detail) || str(frame.code) || 'Something went wrong';
    const pending = typeof frame.client_id === 'string' ? state.pending.get(frame.client_id) : null;
    if (!pending) { notice(detail); return; }
    // The server refused this message; it is not stored, so stop re-sending it automatically.
    outboxRemove(frame.client_id);
    pending.el.setAttribute('data-failed', 'true');
    setMeta(pending.el, `Not sent: ${detail}`, () => {
      pending.el.removeAttribute('data-failed');
      setMeta(pending.el, 'Sending…');
      ui.list.append(pending.el); // back to the bottom, with the other pending bubbles
      outboxAdd(pending.entry); // same client_id
      if (state.ready) sendFrame({ type: 'message', client_id: pending.entry.client_id, content: pending.entry.content });
    });
  }

  // ---------------------------------------------------------------------------------------
  // Sending
  // ---------------------------------------------------------------------------------------
  function sendFrame(frame) {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    try { ws.send(JSON.stringify(frame)); return true; } catch { return false; }
  }

  /** Render a pending bubble for an outbox entry (keyed by client_id). */
  function addPending(entry) {
    if (state.pending.has(entry.client_id)) return;
    const row = renderMessage({ direction: 'in', sender: 'contact', content: entry.content, client_id: entry.client_id });
    row.setAttribute('data-pending', 'true');
    setMeta(row, 'Sending…');
    state.pending.set(entry.client_id, { el: row, entry });
    ui.list.append(row);
    if (entry.content.type === 'reply') markAnswered(row, str(entry.content.payload));
  }

  function sendContent(content) {
    const entry = { client_id: uuid4(), content, created_at: Date.now() };
    outboxAdd(entry); // kept until the server acknowledges it
    addPending(entry);
    scrollToBottom();
    if (state.ready) sendFrame({ type: 'message', client_id: entry.client_id, content });
  }

  /** (Re-)send every unacknowledged message with its original client_id; the server deduplicates. */
  function flushOutbox() {
    for (const entry of readOutbox()) {
      if (!sendFrame({ type: 'message', client_id: entry.client_id, content: entry.content })) return;
    }
  }

  function submitText() {
    const value = ui.composer.value.replace(/^\s*\n|\s+$/g, '');
    if (!value.trim()) return;
    stopTyping();
    sendContent({ type: 'text', text: value.slice(0, MAX_TEXT) });
    ui.composer.value = '';
    autosize();
    ui.composer.focus();
  }

  // Visitor typing: at most one "on" per 3 s while typing; "off" after 5 s idle or on send.
  function onComposerInput() {
    if (!ui.composer.value.trim()) { stopTyping(); return; }
    const now = Date.now();
    if (state.ready && (!state.typingSent || now - state.typingOnAt >= 3000)) {
      if (sendFrame({ type: 'typing', state: 'on' })) { state.typingSent = true; state.typingOnAt = now; }
    }
    clearTimeout(state.typingIdle);
    state.typingIdle = setTimeout(stopTyping, 5000);
  }
  function stopTyping() {
    clearTimeout(state.typingIdle);
    if (state.typingSent) sendFrame({ type: 'typing', state: 'off' });
    state.typingSent = false;
  }

  async function uploadImage(file) {
    if (!IMAGE_TYPES.includes(file.type)) { notice('Only JPEG, PNG, GIF or WebP images can be sent.'); return; }
    if (file.size > MAX_UPLOAD) { notice('That image is too large (maximum 5 MB).'); return; }
    ui.attach.disabled = true;
    ui.attach.setAttribute('aria-busy', 'true');
    try {
      let res = null;
      for (let attempt = 0; attempt < 2; attempt += 1) {
        if (state.needSession || !state.token) await ensureSession();
        const form = new FormData();
        form.append('file', file, file.name || 'image');
        res = await fetch(`${API}/upload`, {
          method: 'POST', headers: { Authorization: `Bearer ${state.token}` }, body: form, credentials: 'omit',
        });
        if (res.status !== 401) break;
        state.needSession = true; // token rejected: get a fresh session and try once more
      }
      if (res.status === 413) throw new Error('That image is too large (maximum 5 MB).');
      if (res.status === 415) throw new Error('Only JPEG, PNG, GIF or WebP images can be sent.');
      if (res.status === 429) throw new Error('Too many uploads, please wait a moment.');
      if (!res.ok) throw new Error('The image could not be uploaded.');
      const data = await res.json();
      if (!data || typeof data.url !== 'string') throw new Error('The image could not be uploaded.');
      // The url is sent exactly as the server returned it (e.g. "/media/…"); it is only
      // resolved against BASE when rendered.
      sendContent({ type: 'media', kind: 'image', url: data.url, caption: null });
    } catch (err) {
      notice(err instanceof Error && err.message && !(err instanceof TypeError) ? err.message : 'The image could not be uploaded.');
    } finally {
      ui.attach.disabled = false;
      ui.attach.removeAttribute('aria-busy');
    }
  }

  // ---------------------------------------------------------------------------------------
  // Session and connection
  // ---------------------------------------------------------------------------------------
  class FatalError extends Error {}

  async function ensureSession() {
    const res = await fetch(`${API}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: state.token || null }),
      credentials: 'omit',
    });
    if (res.status === 404) throw new FatalError('unknown web-chat connection');
    if (res.status >= 400 && res.status < 500 && res.status !== 429 && state.token) {
      state.token = null; // a malformed stored token: forget it, the next attempt starts fresh
      store.remove(KEY_TOKEN);
    }
    if (!res.ok) throw new Error(`session request failed (${res.status})`);
    const data = await res.json();
    if (!data || typeof data.token !== 'string') throw new Error('bad session response');
    if (data.token !== state.token) { state.token = data.token; store.set(KEY_TOKEN, data.token); }
    if (state.visitorId && data.visitor_id !== state.visitorId) resetConversation();
    state.visitorId = data.visitor_id;
    state.needSession = false;
  }

  /** A different visitor identity: its history is different, so start over from event 0. */
  function resetConversation() {
    ui.list.textContent = '';
    state.messages.clear();
    state.pending.clear();
    state.eventIds.clear();
    state.earlyStatus.clear();
    state.lastEventId = 0;
    for (const entry of readOutbox()) addPending(entry);
  }

  async function connect() {
    state.reconnectTimer = null;
    if (state.ws || state.connecting) return;
    state.connecting = true;
    try {
      if (state.needSession) await ensureSession();
      openSocket();
    } catch (err) {
      if (err instanceof FatalError) { setStatus('unavailable'); console.warn('[toonbank]', err.message); return; }
      scheduleReconnect();
    } finally {
      state.connecting = false;
    }
  }

  function openSocket() {
    const gen = ++state.socketGen;
    const url = `${WS_BASE}/webchat/${encodeURIComponent(connection)}/ws`
      + `?token=${encodeURIComponent(state.token || '')}&last_event_id=${state.lastEventId}`;
    let ws;
    try { ws = new WebSocket(url); } catch { scheduleReconnect(); return; }
    state.ws = ws;
    state.ready = false;
    let opened = false;
    const openTimeout = setTimeout(() => { if (!opened) ws.close(); }, 15000);

    ws.onopen = () => {
      if (gen !== state.socketGen) return;
      opened = true;
      clearTimeout(openTimeout);
      state.lastFrameAt = Date.now();
      startPing();
    };
    ws.onmessage = (e) => {
      if (gen !== state.socketGen) return;
      state.lastFrameAt = Date.now();
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      handleFrame(frame);
    };
    ws.onerror = () => { /* a close event always follows */ };
    ws.onclose = (e) => {
      clearTimeout(openTimeout);
      if (gen !== state.socketGen) return;
      state.ws = null;
      state.ready = false;
      stopPing();
      showBotTyping(false);
      state.typingSent = false;
      // 4401 = invalid token. A rejected handshake may also surface only as 1006 without
      // ever opening, so after two failed opens we re-validate the session too.
      if (!opened) state.failedOpens += 1;
      if (e.code === 4401 || state.failedOpens >= 2) state.needSession = true;
      scheduleReconnect();
    };
  }

  /** Exponential backoff: 0.5 s doubling up to 10 s, with jitter (50–100 % of the step). */
  function scheduleReconnect() {
    setStatus(state.everReady ? 'reconnecting' : 'connecting');
    if (state.reconnectTimer) return;
    const step = Math.min(10000, 500 * 2 ** state.attempt);
    state.attempt += 1;
    const delay = step / 2 + Math.random() * (step / 2);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  /** Skip the remaining backoff (network back, tab visible again). */
  function reconnectNow() {
    if (state.ws || state.connecting || state.status === 'unavailable') return;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    state.attempt = 0;
    connect();
  }

  function startPing() {
    stopPing();
    state.pingTimer = setInterval(() => {
      const ws = state.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      if (Date.now() - state.lastFrameAt > DEAD_AFTER) { ws.close(4000, 'no response'); return; }
      sendFrame({ type: 'ping' });
    }, PING_EVERY);
  }
  function stopPing() { clearInterval(state.pingTimer); state.pingTimer = null; }

  // ---------------------------------------------------------------------------------------
  // Start
  // ---------------------------------------------------------------------------------------
  window.ToonbankWidget = {
    connection,
    /** A snapshot for tests and debugging. */
    state: () => ({
      lastEventId: state.lastEventId,
      renderedEventIds: Array.from(state.eventIds).sort((a, b) => a - b),
      outbox: readOutbox(),
      connected: !!state.ws && state.ws.readyState === WebSocket.OPEN && state.ready,
    }),
    /** Force-close the socket; the widget reconnects by itself (for testing resume). */
    disconnect() {
      if (state.ws) state.ws.close(4000, 'client disconnect');
    },
    open: () => ui.panel && setOpen(true),
    close: () => ui.panel && setOpen(false),
  };

  function start() {
    buildUi();
    setStatus('connecting');
    for (const entry of readOutbox()) addPending(entry); // unsent messages from a previous page
    if (START_OPEN) setOpen(true);
    window.addEventListener('online', reconnectNow);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) reconnectNow(); });
    connect();
  }

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start, { once: true });
})();
