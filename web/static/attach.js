// Files on a reply: the attach button, files dropped on the reply box, images pasted into
// it. Each file is uploaded at once into the open conversation and waits as a chip (name,
// size, a remove button) until the reply that carries it is sent.
"use strict";

import { clear, el, formatBytes, report, upload } from "./api.js";

const MAX_FILES = 10;

export function setupAttachments({ form, textarea, button, input, list, conversation }) {
  let pending = []; // {key, name, size, file: wire attachment once uploaded, failed}
  let counter = 0;

  function render() {
    clear(list);
    list.hidden = !pending.length;
    for (const item of pending) {
      const state = item.failed ? "failed" : item.file ? "ready" : "uploading";
      const remove = el("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${item.name}` }, "×");
      remove.addEventListener("click", () => {
        pending = pending.filter((p) => p !== item);
        render();
      });
      list.append(el("span", { class: `file-chip ${state}`, title: item.name },
        el("span", { class: "chip-name", dir: "auto" }, item.name),
        el("small", {}, state === "uploading" ? "uploading…" : formatBytes(item.size)), remove));
    }
  }

  async function add(file) {
    const id = conversation();
    if (!id || pending.length >= MAX_FILES) return;
    const item = { key: ++counter, name: file.name || "pasted image", size: file.size, file: null, failed: false };
    pending.push(item);
    render();
    const name = encodeURIComponent(item.name);
    try {
      item.file = await upload(`/api/conversations/${encodeURIComponent(id)}/files?name=${name}`, file);
    } catch (err) {
      pending = pending.filter((p) => p !== item);
      report(err, `Could not attach ${item.name}`);
    }
    render();
  }

  button.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    for (const file of input.files) add(file);
    input.value = "";
  });
  form.addEventListener("dragover", (event) => {
    if (!event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    form.classList.add("dropping");
  });
  form.addEventListener("dragleave", () => form.classList.remove("dropping"));
  form.addEventListener("drop", (event) => {
    form.classList.remove("dropping");
    if (!event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    for (const file of event.dataTransfer.files) add(file);
  });
  textarea.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return; // text pastes as text
    event.preventDefault();
    for (const file of files) add(file);
  });

  return {
    /** The uploaded files, as a message's attachments (wire form). */
    ready: () => pending.filter((p) => p.file).map((p) => ({
      url: p.file.url, mime: p.file.mime, name: p.file.name, size: p.file.size,
      media_id: p.file.id, thumbnail_url: p.file.thumbnail_url,
    })),
    busy: () => pending.some((p) => !p.file),
    clear: () => { pending = []; render(); },
  };
}
