// The contact panel beside a thread: profile and identities, edit, export and erase.
"use strict";

import { showBookings } from "./bookings.js";
import { api, clear, el, formatTime, get, kindName, patch, report, toast, channelIcon, me } from "./api.js";

const pane = document.getElementById("contact-pane");
const form = document.getElementById("contact-form");
const attrs = document.getElementById("contact-attributes");
const idents = document.getElementById("contact-identities");
const created = document.getElementById("contact-created");
const dialog = document.getElementById("erase-dialog");

// Restriction and objection: a choice in the panel, a banner above the thread.
const PROCESSING = {
  normal: "Normal",
  restricted: "Restricted: no automation",
  objected: "Objected: do not contact",
};
const BANNERS = {
  restricted: "This contact restricted processing: no flows, AI or automated messages run for them. Your own replies still go out.",
  objected: "This contact objected to being contacted: replies are refused unless you confirm each one.",
};
const processingSelect = el("select", { id: "contact-processing", "aria-label": "Processing" },
  ...Object.entries(PROCESSING).map(([value, label]) => el("option", { value }, label)));
document.getElementById("contact-export").closest(".row").before(
  el("label", { class: "compact" }, "Processing ", processingSelect));
// Consent to the workspace's purpose: the current answer, and recording a withdrawal.
const consentLine = el("p", { id: "contact-consent", class: "muted small" });
const withdrawButton = el("button", { type: "button", id: "contact-consent-withdraw", class: "ghost small", hidden: true },
  "Record consent withdrawal");
document.getElementById("contact-export").closest(".row").before(consentLine, withdrawButton);
withdrawButton.addEventListener("click", async () => {
  if (!contact) return;
  try {
    await api("POST", `/api/contacts/${encodeURIComponent(contact.id)}/consent/withdraw`);
    await showContact(contact.id);
    toast("The withdrawal was recorded.", "ok", 3000);
  } catch (err) {
    report(err, "Could not record the withdrawal");
  }
});
const banner = el("p", { id: "processing-banner", class: "notice processing-banner", role: "status", hidden: true });
document.getElementById("messages")?.before(banner);

let contact = null;
let loadToken = 0;
let hooks = { renamed: () => {}, erased: () => {} };

/** renamed(contact) after an edit; erased(contactId) after an erasure. */
export function setContactHooks(next) {
  hooks = { ...hooks, ...next };
}

export async function showContact(contactId, conversationId = null) {
  const token = ++loadToken;
  showBookings(contactId, conversationId);
  pane.hidden = false;
  pane.classList.add("loading");
  // No edits until the contact is here: its values would overwrite what was typed.
  form.querySelector("button[type=submit]").disabled = true;
  try {
    const found = await get(`/api/contacts/${encodeURIComponent(contactId)}`);
    if (token !== loadToken) return;
    render(found);
  } catch (err) {
    if (token !== loadToken) return;
    if (err.status === 404) {
      hideContact();
      return;
    }
    report(err, "Could not load the contact");
  } finally {
    if (token === loadToken) pane.classList.remove("loading");
  }
}

export function hideContact() {
  loadToken += 1;
  contact = null;
  pane.hidden = true;
  banner.hidden = true;
}

function showConsent(found) {
  const answer = found.consent;
  consentLine.textContent = !answer ? "Consent: not asked or not answered" :
    `Consent: ${answer.granted ? "given" : "withdrawn or refused"} ${formatTime(answer.at)} (text version ${answer.version})`;
  withdrawButton.hidden = !(answer && answer.granted);
}

function showProcessing(found) {
  const value = found.processing || "normal";
  processingSelect.value = value;
  banner.hidden = !BANNERS[value];
  banner.textContent = BANNERS[value] || "";
  banner.dataset.processing = value;
}

processingSelect.addEventListener("change", async () => {
  if (!contact) return;
  const wanted = processingSelect.value;
  processingSelect.disabled = true;
  try {
    const updated = await patch(`/api/contacts/${encodeURIComponent(contact.id)}`, { processing: wanted });
    render(updated);
    toast("Processing set to " + PROCESSING[wanted].toLowerCase() + ".", "ok", 3000);
  } catch (err) {
    showProcessing(contact);
    report(err, "Could not change the processing");
  } finally {
    processingSelect.disabled = false;
  }
});

/** The number of a WhatsApp identity (its id is the number's digits), as +digits. */
function whatsappNumber(identities) {
  const wa = (identities || []).find((i) => i.kind === "whatsapp" && /^\d{6,15}$/.test(i.external_id || ""));
  return wa ? "+" + wa.external_id : "";
}

function render(found) {
  contact = found;
  form.querySelector("button[type=submit]").disabled = false;
  form.elements.name.value = found.name || "";
  form.elements.email.value = found.email || "";
  // No phone yet: a WhatsApp identity is the number; it fills the field, Save keeps it.
  const prefill = found.phone ? "" : whatsappNumber(found.identities);
  form.elements.phone.value = found.phone || prefill;
  form.elements.phone.title = prefill ? "From their WhatsApp number; Save contact keeps it." : "";
  clear(attrs);
  const entries = Object.entries(found.attributes || {});
  if (!entries.length) attrs.append(el("dd", { class: "muted" }, "None"));
  for (const [key, value] of entries) {
    attrs.append(el("dt", {}, key), el("dd", {}, typeof value === "string" ? value : JSON.stringify(value)));
  }
  clear(idents);
  for (const identity of found.identities || []) {
    idents.append(el("li", {}, channelIcon(identity.kind), " ",
      el("span", { class: "muted" }, kindName(identity.kind) + ": "),
      el("code", {}, identity.external_id || "")));
  }
  if (!(found.identities || []).length) idents.append(el("li", { class: "muted" }, "None"));
  created.textContent = found.created_at ? "First seen " + formatTime(found.created_at) : "";
  showProcessing(found);
  showConsent(found);
  const mayErase = me.manager;
  document.getElementById("contact-export").hidden = !mayErase;
  document.getElementById("contact-erase").hidden = !mayErase;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!contact) return;
  const value = (name) => form.elements[name].value.trim() || null;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const updated = await patch(`/api/contacts/${encodeURIComponent(contact.id)}`, {
      name: value("name"), email: value("email"), phone: value("phone"),
    });
    render(updated);
    hooks.renamed(updated);
    toast("Contact saved.", "ok", 3000);
  } catch (err) {
    report(err, "Could not save the contact");
  } finally {
    button.disabled = false;
  }
});

document.getElementById("contact-export").addEventListener("click", async () => {
  if (!contact) return;
  try {
    const response = await api("GET", `/api/contacts/${encodeURIComponent(contact.id)}/export`, undefined, { raw: true });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: `contact-${contact.id}.json`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    toast("Export downloaded.", "ok", 3000);
  } catch (err) {
    report(err, "Export failed");
  }
});

document.getElementById("contact-erase").addEventListener("click", () => {
  if (!contact) return;
  document.getElementById("erase-name").textContent = contact.name || "without a name";
  dialog.returnValue = "";
  dialog.showModal();
});

dialog.addEventListener("close", async () => {
  if (dialog.returnValue !== "erase" || !contact) return;
  const id = contact.id;
  try {
    await api("DELETE", `/api/contacts/${encodeURIComponent(id)}`);
    hideContact();
    hooks.erased(id);
    toast("The contact and their conversations were erased.", "ok");
  } catch (err) {
    report(err, "Erase failed");
  }
});
