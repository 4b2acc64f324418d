// Settings → Channels: edit a channel in place (its webhook URL and widget key stay), and
// register a Viber channel's webhook again, showing Viber's reason when it refuses.
"use strict";

import { el, patch, post, report, toast } from "./api.js";

// fields: the kind's [name, label, type, required] list from settings.js.
export function editForm(ch, fields, onSaved) {
  const form = el("form", { class: "stack narrow channel-edit", hidden: true });
  form.append(el("label", {}, "Name", el("input", { name: "name", value: ch.name, maxlength: 200, required: true })));
  for (const [name, label, type] of fields) {
    let input;
    if (type === "lines") {
      input = el("textarea", { name, rows: 2 });
      input.value = ((ch.config || {})[name] || []).join("\n");
    } else if (type === "secret") {
      input = el("input", { name, type: "password", autocomplete: "off", placeholder: "Leave blank to keep the current one" });
    } else {
      input = el("input", { name, type: "text", value: (ch.config || {})[name] || "" });
    }
    form.append(el("label", {}, type === "secret" ? `${label} (new value rotates it)` : label, input));
  }
  if (ch.kind === "custom") {
    form.append(el("label", { class: "check" }, el("input", { type: "checkbox", name: "rotate_ingest_token" }), " Rotate the ingest token (the old one stops working)"));
  }
  form.append(el("div", { class: "row" },
    el("button", { type: "submit", class: "primary small" }, "Save"),
    el("button", { type: "button", class: "ghost small", dataset: { cancel: "1" } }, "Cancel")));
  form.querySelector("[data-cancel]").addEventListener("click", () => { form.hidden = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: form.elements.name.value.trim() };
    const config = {};
    for (const [name, , type, required] of fields) {
      const raw = form.elements[name].value;
      if (type === "secret") {
        if (raw.trim()) config[name] = raw.trim();
      } else if (type === "lines") {
        config[name] = raw.split(/\s+/).filter(Boolean);
      } else {
        config[name] = raw.trim() || (required ? raw.trim() : null);
      }
    }
    if (Object.keys(config).length) body.config = config;
    if (form.elements.rotate_ingest_token?.checked) body.rotate_ingest_token = true;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const saved = await patch(`/api/channels/${encodeURIComponent(ch.id)}`, body);
      toast("Channel saved. Its webhook URL and widget key are unchanged.", "ok", 4000);
      onSaved(saved);
    } catch (err) {
      report(err, "Could not save the channel");
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export function viberRegister(ch) {
  const status = el("p", { class: "muted small webhook-status", role: "status" });
  if (ch.webhook_registered === false && ch.webhook_error) {
    status.textContent = "Viber refused the webhook: " + ch.webhook_error;
    status.className = "error small webhook-status";
  }
  const button = el("button", { type: "button", class: "ghost small" }, "Register webhook with Viber again");
  button.addEventListener("click", async () => {
    button.disabled = true;
    status.className = "muted small webhook-status";
    status.textContent = "Asking Viber…";
    try {
      await post(`/api/channels/${encodeURIComponent(ch.id)}/register-webhook`);
      status.textContent = "Viber accepted the webhook.";
    } catch (err) {
      status.className = "error small webhook-status";
      status.textContent = err.detail || err.message || "Viber could not be reached.";
    } finally {
      button.disabled = false;
    }
  });
  return el("div", { class: "viber-register" }, button, status);
}
