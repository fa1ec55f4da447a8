// Attachments from the composer: pick an image or a PDF, see it, remove it. On send the file is
// uploaded (the server checks its real type and size) and goes out as a media message with the
// composer text as its caption. Names are shown with textContent only.
"use strict";
window.ToonbankAttachments = (() => {
  const T = (id) => document.querySelector(`[data-testid="${id}"]`);
  const ACCEPT = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"];
  let chosen = null;
  let preview = null;

  function render() {
    const slot = T("attachment-preview");
    if (preview) { URL.revokeObjectURL(preview); preview = null; }
    slot.replaceChildren();  // no <img> in the page unless a picked image is shown
    T("attachment").hidden = !chosen;
    T("attachment-name").textContent = chosen ? `${chosen.name} (${Math.max(1, Math.round(chosen.size / 1024))} KB)` : "";
    if (chosen && chosen.type.startsWith("image/")) {
      preview = URL.createObjectURL(chosen);
      const thumb = document.createElement("img");
      thumb.src = preview; thumb.alt = ""; thumb.setAttribute("data-testid", "attachment-thumb");
      slot.append(thumb);
    }
  }

  function clear() {
    chosen = null;
    T("attach-input").value = "";
    render();
  }

  function init(showError) {
    const input = T("attach-input");
    T("attach").addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      if (!file) return;
      if (!ACCEPT.includes(file.type)) {
        input.value = "";
        showError("Attach an image (JPEG, PNG, GIF, WebP) or a PDF.");
        return;
      }
      showError("");
      chosen = file;
      render();
    });
    T("attachment-remove").addEventListener("click", clear);
  }

  async function upload(path) {
    const form = new FormData();
    form.append("file", chosen, chosen.name);
    const response = await fetch(path, { method: "POST", body: form, credentials: "same-origin" });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.detail) || response.statusText);
      error.status = response.status; error.data = data;
      throw error;
    }
    return data;
  }

  // Upload the chosen file to `path`; the media content to send, with `caption` if any.
  async function content(path, caption) {
    const media = await upload(path);
    const result = { type: "media", kind: media.kind, url: media.url, filename: media.filename, mime_type: media.mime_type };
    if (caption) result.caption = caption;
    return result;
  }

  // A stored file in the history: a thumbnail or a download link, read through the inbox API
  // (scoped to the agent's workspace). Other links are shown as links, never as markup.
  function view(content) {
    const match = /^\/media\/([0-9a-f]{32})$/.exec(String(content.url || ""));
    const href = match ? `/api/v1/inbox/media/${match[1]}` : (/^https?:\/\//.test(content.url || "") ? content.url : null);
    if (!href) return null;
    if (content.kind === "image" && match) {
      const img = document.createElement("img");
      img.className = "thumb"; img.src = href; img.alt = content.caption || content.filename || "image";
      img.setAttribute("data-testid", "media-thumb");
      return img;
    }
    const a = document.createElement("a");
    a.href = href; a.rel = "noopener noreferrer"; a.target = "_blank";
    a.setAttribute("data-testid", "media-link");
    a.textContent = `📎 ${content.filename || content.kind || "file"}`;
    return a;
  }

  return { init, clear, chosen: () => chosen, content, view };
})();
