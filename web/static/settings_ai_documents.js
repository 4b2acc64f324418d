// Settings → AI → Documents: the texts ai_reply answers from (/api/ai/documents). Owners and
// admins add, edit and delete them; everyone else reads. Only the passages that match a
// contact's question are sent to the AI provider, never a whole document.
"use strict";

import { del, el, get, me, patch, post, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);

export async function loadDocuments() {
  const list = $("ai-documents");
  try {
    const docs = await get("/api/ai/documents");
    list.replaceChildren(...docs.items.map(documentCard));
    showEmpty();
  } catch (err) {
    report(err, "Could not load the documents");
  }
  if (!me.manager) {
    for (const c of $("ai-document-form").querySelectorAll("input, textarea, button")) c.disabled = true;
  }
}

function showEmpty() {
  const list = $("ai-documents");
  const empty = list.querySelector(".documents-empty");
  if (list.querySelector(".card-item")) empty?.remove();
  else if (!empty) list.append(el("p", { class: "muted documents-empty" }, "No documents yet. Add your prices, terms or FAQ below."));
}

function documentCard(doc) {
  const title = el("input", { type: "text", value: doc.title, maxlength: 200, "aria-label": "Document title", required: true });
  const text = el("textarea", { rows: 6, "aria-label": "Document text", required: true, disabled: true }, "Loading…");
  const save = el("button", { type: "submit", class: "primary small" }, "Save document");
  const remove = el("button", { type: "button", class: "danger small" }, "Delete");
  const card = el("form", { class: "card-item stack", dataset: { documentId: doc.id }, "aria-label": `Document ${doc.title}` },
    el("header", {}, title, remove), text, el("div", { class: "row" }, save));
  get(`/api/ai/documents/${encodeURIComponent(doc.id)}`).then((full) => {
    text.value = full.text;
    text.disabled = !me.manager;
  }, (err) => report(err, "Could not load the document"));
  if (!me.manager) {
    for (const c of [title, save, remove]) c.disabled = true;
  }
  card.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const saved = await patch(`/api/ai/documents/${encodeURIComponent(doc.id)}`, { title: title.value.trim(), text: text.value });
      card.setAttribute("aria-label", `Document ${saved.title}`);
      toast(`Document “${saved.title}” saved.`, "ok", 3000);
    } catch (err) {
      report(err, "Could not save the document");
    }
  });
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete the document “${title.value}”? AI replies no longer answer from it.`)) return;
    try {
      await del(`/api/ai/documents/${encodeURIComponent(doc.id)}`);
      card.remove();
      showEmpty();
      toast("Document deleted.", "ok", 3000);
    } catch (err) {
      report(err, "Could not delete the document");
    }
  });
  return card;
}

$("ai-document-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const f = form.elements;
  try {
    const doc = await post("/api/ai/documents", { title: f.title.value.trim(), text: f.text.value });
    $("ai-documents").append(documentCard(doc));
    showEmpty();
    form.reset();
    toast(`Document “${doc.title}” added.`, "ok", 3000);
  } catch (err) {
    report(err, "Could not add the document");
  }
});
