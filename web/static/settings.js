// Settings: workspace, operators, channels (with webhook URL and widget snippet), teams,
// canned responses and business hours (settings_teams.js, settings_canned.js,
// settings_hours.js), API tokens, two-factor
// authentication and the audit log.
"use strict";

import { loadCalendars } from "./calendars.js";
import { loadDocuments } from "./settings_ai_documents.js";
import { loadBilling } from "./settings_billing.js";
import { loadCanned } from "./settings_canned.js";
import { loadAudit } from "./settings_audit.js";
import { loadHours } from "./settings_hours.js";
import { editForm, viberRegister } from "./settings_channel_edit.js";
import { loadInvites, resetLinkButton } from "./settings_invites.js";
import { loadTeams } from "./settings_teams.js";
import { api, channelIcon, clear, del, el, formatTime, get, kindName, me, patch, post, report, toast, wireTopbar } from "./api.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const publicUrl = (app.dataset.publicUrl || location.origin).replace(/\/$/, "");
const TABS = ["workspace", "operators", "channels", "teams", "canned", "hours", "calendars", "tokens", "security", "ai", "audit", "profile"];
if ($("tab-billing")) TABS.push("billing"); // owners, where the server turns billing on
const loaded = new Set();

function showTab(name) {
  if (!TABS.includes(name)) name = "workspace";
  for (const tab of TABS) $("tab-" + tab).hidden = tab !== name;
  for (const link of document.querySelectorAll("#settings-nav a")) {
    if (link.dataset.tab === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!loaded.has(name)) {
    loaded.add(name);
    LOADERS[name]();
  }
}

for (const link of document.querySelectorAll("#settings-nav a")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    history.replaceState(null, "", "?tab=" + link.dataset.tab);
    showTab(link.dataset.tab);
  });
}

function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
}

function copyButton(getText, label = "Copy") {
  const button = el("button", { type: "button", class: "ghost small" }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(getText());
      toast("Copied.", "ok", 2000);
    } catch (err) {
      toast("Copy failed; select the text and copy it by hand.", "error");
    }
  });
  return button;
}

function readonlyIfAgent(form) {
  if (me.manager) return;
  for (const input of form.querySelectorAll("input, select, textarea, button")) input.disabled = true;
  form.append(el("p", { class: "muted small" }, "Only owners and admins can change this."));
}

// ---------------------------------------------------------------- workspace

const workspaceForm = $("workspace-form");
async function loadWorkspace() {
  try {
    const ws = await get("/api/workspace");
    workspaceForm.elements.name.value = ws.name || "";
    workspaceForm.elements.retention_days.value = ws.retention_days ?? "";
    workspaceForm.elements.allowed_origins.value = (ws.allowed_origins || []).join("\n");
    workspaceForm.elements.require_2fa.checked = Boolean(ws.require_2fa);
    workspaceForm.elements.csat_enabled.checked = ws.csat_enabled !== false;
  } catch (err) {
    report(err, "Could not load the workspace");
  }
  readonlyIfAgent(workspaceForm);
}
// ---------------------------------------------------------------- consent question
const consentForm = $("consent-form");
function showConsent(question) {
  consentForm.elements.enabled.checked = question.enabled;
  consentForm.elements.text.value = question.text || "";
  $("consent-version").textContent = question.enabled ? `Text version ${question.version}` : "Off";
}
async function loadConsent() {
  try {
    showConsent(await get("/api/workspace/consent"));
  } catch (err) {
    report(err, "Could not load the consent question");
  }
  readonlyIfAgent(consentForm);
}
consentForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = consentForm.elements;
  busy(consentForm, true);
  try {
    showConsent(await api("PUT", "/api/workspace/consent", { enabled: f.enabled.checked, text: f.text.value }));
    toast("Consent question saved.", "ok", 3000);
  } catch (err) {
    report(err, "Could not save the consent question");
  } finally {
    busy(consentForm, false);
  }
});

workspaceForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = workspaceForm.elements;
  const days = f.retention_days.value.trim();
  const body = {
    name: f.name.value.trim(),
    retention_days: days === "" ? null : Number(days),
    allowed_origins: f.allowed_origins.value.split(/\s+/).map((s) => s.trim()).filter(Boolean),
    require_2fa: f.require_2fa.checked,
    csat_enabled: f.csat_enabled.checked,
  };
  busy(workspaceForm, true);
  try {
    const ws = await patch("/api/workspace", body);
    $("workspace-name").textContent = ws.name;
    toast("Workspace saved.", "ok", 3000);
  } catch (err) {
    report(err, "Could not save");
  } finally {
    busy(workspaceForm, false);
  }
});

// ---------------------------------------------------------------- AI

// Off by default; only an owner switches it on, and only when the server names a provider.
const aiForm = $("ai-form");
async function loadAi() {
  loadDocuments();
  try {
    const ws = await get("/api/workspace");
    if (!ws.ai_provider) {
      $("ai-unavailable").hidden = false;
      return;
    }
    aiForm.hidden = false;
    $("ai-provider").textContent = ws.ai_provider.host;
    $("ai-model").textContent = ws.ai_provider.model;
    $("ai-region").textContent = ws.ai_provider.region || "not stated";
    aiForm.elements.ai_enabled.checked = Boolean(ws.ai_enabled);
    aiForm.elements.ai_monthly_tokens.value = ws.ai_monthly_tokens ?? "";
  } catch (err) {
    report(err, "Could not load the AI settings");
  }
  if (me.role !== "owner") {
    for (const input of aiForm.querySelectorAll("input, button")) input.disabled = true;
    aiForm.append(el("p", { class: "muted small" }, "Only owners can change this."));
  }
}
aiForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = aiForm.elements;
  const tokens = f.ai_monthly_tokens.value.trim();
  busy(aiForm, true);
  try {
    const ws = await patch("/api/workspace", {
      ai_enabled: f.ai_enabled.checked,
      ai_monthly_tokens: tokens === "" ? null : Number(tokens),
    });
    toast(ws.ai_enabled ? "AI is on." : "AI is off.", "ok", 3000);
  } catch (err) {
    report(err, "Could not save the AI settings");
  } finally {
    busy(aiForm, false);
  }
});

// ---------------------------------------------------------------- operators

const ROLES = ["agent", "admin", "owner"];
async function loadOperators() {
  const body = $("operators-body");
  try {
    const page = await get("/api/operators");
    clear(body);
    for (const op of page.items) body.append(operatorRow(op));
  } catch (err) {
    report(err, "Could not load operators");
  }
  readonlyIfAgent($("operator-form"));
  loadInvites();
}

function operatorRow(op) {
  const self = op.id === me.id;
  const role = el("select", { "aria-label": "Role of " + op.name, disabled: !me.manager || self },
    ...ROLES.map((r) => el("option", { value: r, selected: r === op.role }, r)));
  role.addEventListener("change", async () => {
    try {
      await patch(`/api/operators/${encodeURIComponent(op.id)}`, { role: role.value });
      toast(`${op.name} is now ${role.value}.`, "ok", 3000);
    } catch (err) {
      role.value = op.role;
      report(err, "Could not change the role");
    }
  });
  const toggle = el("button", { type: "button", class: op.disabled ? "ghost small" : "danger small", disabled: !me.manager || self },
    op.disabled ? "Enable" : "Disable");
  toggle.addEventListener("click", async () => {
    try {
      const updated = await patch(`/api/operators/${encodeURIComponent(op.id)}`, { disabled: !op.disabled });
      row.replaceWith(operatorRow(updated));
    } catch (err) {
      report(err, "Could not change the operator");
    }
  });
  // Owners delete accounts: the messages stay, by "former operator".
  const remove = me.role === "owner" && !self
    ? el("button", { type: "button", class: "danger small" }, "Delete") : null;
  remove?.addEventListener("click", async () => {
    if (!confirm(`Delete ${op.name}'s account? Their messages stay, shown as by "former operator". This cannot be undone.`)) return;
    try {
      await del(`/api/operators/${encodeURIComponent(op.id)}`);
      row.remove();
      toast(`${op.name}'s account was deleted.`, "ok", 3000);
    } catch (err) {
      report(err, "Could not delete the operator");
    }
  });
  const row = el("tr", {},
    el("td", {}, op.name, self ? el("span", { class: "muted" }, " (you)") : null),
    el("td", {}, op.email),
    el("td", {}, role),
    el("td", {}, op.totp_enabled ? "On" : "Off"),
    el("td", {}, op.disabled ? el("span", { class: "pill status-resolved" }, "disabled") : el("span", { class: "pill status-open" }, "active"), " ", toggle, remove ? " " : null, remove, " ", resetLinkButton(op)));
  return row;
}

$("operator-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const f = form.elements;
  busy(form, true);
  try {
    const op = await post("/api/operators", {
      name: f.name.value.trim(), email: f.email.value.trim(), password: f.password.value, role: f.role.value,
    });
    $("operators-body").append(operatorRow(op));
    form.reset();
    toast(`${op.name} was added. Share the initial password with them privately.`, "ok");
  } catch (err) {
    report(err, "Could not add the operator");
  } finally {
    busy(form, false);
  }
});

// ---------------------------------------------------------------- channels

const FIELDS = {
  widget: [
    ["allowed_origins", "Websites allowed to embed it (one origin per line, e.g. https://shop.example)", "lines", true],
    ["title", "Title shown in the widget", "text", false],
    ["color", "Accent colour (#rrggbb)", "text", false],
  ],
  whatsapp: [
    ["phone_number_id", "Phone number ID", "text", true],
    ["access_token", "Access token", "secret", true],
    ["app_secret", "App secret", "secret", true],
    ["verify_token", "Verify token (any phrase you choose; paste the same at Meta)", "secret", true],
  ],
  messenger: [
    ["page_id", "Page ID", "text", true],
    ["access_token", "Page access token", "secret", true],
    ["app_secret", "App secret", "secret", true],
    ["verify_token", "Verify token (any phrase you choose; paste the same at Meta)", "secret", true],
  ],
  instagram: [
    ["account_id", "Instagram account ID", "text", true],
    ["access_token", "Access token", "secret", true],
    ["app_secret", "App secret", "secret", true],
    ["verify_token", "Verify token (any phrase you choose; paste the same at Meta)", "secret", true],
  ],
  viber: [["auth_token", "Bot auth token", "secret", true]],
  custom: [],
};

const kindSelect = $("channel-kind");
const fieldBox = $("channel-fields");
function renderChannelFields() {
  clear(fieldBox);
  const kind = kindSelect.value;
  for (const [name, label, type, required] of FIELDS[kind]) {
    const input = type === "lines"
      ? el("textarea", { name, rows: 2, required })
      : el("input", { name, type: type === "secret" ? "password" : "text", required, autocomplete: "off" });
    if (name === "allowed_origins") input.value = "";
    if (name === "color") input.placeholder = "#3355ff";
    fieldBox.append(el("label", {}, label + (required ? "" : " (optional)"), input));
  }
  if (kind === "custom") {
    fieldBox.append(el("p", { class: "muted small" }, "Your adapter posts messages to the ingest API with a token shown once after creation."));
  }
}
kindSelect.addEventListener("change", renderChannelFields);

function snippet(key) {
  return `<script src="${publicUrl}/widget.js" data-inviaro-key="${key}" async></script>`;
}

function codeBlock(text, label) {
  return el("div", { class: "code-row" }, el("code", { class: "code" }, text), copyButton(() => text, label));
}

function channelGuide(ch, extra = {}) {
  const box = el("div", { class: "guide" });
  if (ch.kind === "widget" && ch.public_key) {
    box.append(el("p", {}, "Paste this tag before </body> on your website:"), codeBlock(snippet(ch.public_key), "Copy snippet"));
    box.append(el("p", {}, el("a", { href: "/widget/try?key=" + encodeURIComponent(ch.public_key), target: "_blank", rel: "noopener", class: "try-link" }, "Try the widget on a preview page →")));
    const origins = (ch.config && ch.config.allowed_origins) || [];
    box.append(el("p", { class: "muted small" }, "Allowed sites: " + (origins.join(", ") || "none")));
  }
  if (ch.webhook_url) {
    box.append(el("p", {}, "Webhook (callback) URL to paste at the provider:"), codeBlock(ch.webhook_url, "Copy URL"));
    if (["whatsapp", "messenger", "instagram"].includes(ch.kind)) {
      box.append(el("p", { class: "muted small" },
        "In the Meta app dashboard → Webhooks, paste this URL and the verify token you entered here, then subscribe to the messages field."));
    } else if (ch.kind === "viber") {
      box.append(el("p", { class: "muted small" },
        ch.webhook_registered === false
          ? "Viber could not reach this URL yet; make sure the hub is reachable over HTTPS from the internet."
          : "The hub registers this URL with Viber for you."));
    }
  }
  if (ch.kind === "custom") {
    box.append(el("p", {}, "Ingest endpoint:"), codeBlock(`${publicUrl}/api/ingest/${ch.id}`, "Copy URL"));
    if (extra.ingest_token) {
      box.append(el("p", { class: "warning" }, "Ingest token — shown only now, copy it:"), codeBlock(extra.ingest_token, "Copy token"));
    }
  }
  if ((ch.secrets_set || []).length) {
    box.append(el("p", { class: "muted small" }, "Secrets stored: " + ch.secrets_set.join(", ")));
  }
  return box;
}

function channelCard(ch, extra = {}) {
  const remove = el("button", { type: "button", class: "danger small", hidden: !me.manager }, "Delete");
  const edit = el("button", { type: "button", class: "ghost small", hidden: !me.manager }, "Edit");
  const form = editForm(ch, FIELDS[ch.kind] || [], (saved) => card.replaceWith(channelCard({ ...ch, ...saved }, saved)));
  edit.addEventListener("click", () => { form.hidden = !form.hidden; });
  const card = el("article", { class: "card-item", dataset: { channelId: ch.id, kind: ch.kind } },
    el("header", {}, channelIcon(ch.kind), el("strong", {}, ch.name), el("span", { class: "muted" }, " " + kindName(ch.kind)), edit, remove),
    form,
    channelGuide(ch, extra),
    ch.kind === "viber" && me.manager ? viberRegister(ch) : null);
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete the channel “${ch.name}”? Its webhooks and widget stop working; its conversations stay.`)) return;
    try {
      await del(`/api/channels/${encodeURIComponent(ch.id)}`);
      card.remove();
      toast("Channel deleted.", "ok", 3000);
    } catch (err) {
      report(err, "Could not delete the channel");
    }
  });
  return card;
}

async function loadChannels() {
  renderChannelFields();
  const list = $("channels-list");
  try {
    const page = await get("/api/channels");
    clear(list);
    for (const ch of page.items) list.append(channelCard(ch));
    if (!page.items.length) list.append(el("p", { class: "muted" }, "No channels yet. Start with the website widget below."));
  } catch (err) {
    report(err, "Could not load channels");
  }
  readonlyIfAgent($("channel-form"));
}

$("channel-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const kind = kindSelect.value;
  const config = {};
  for (const [name, , type] of FIELDS[kind]) {
    const value = form.elements[name].value.trim();
    if (!value) continue;
    config[name] = type === "lines" ? value.split(/\s+/).filter(Boolean) : value;
  }
  const name = form.elements.name.value.trim() || kindName(kind);
  busy(form, true);
  try {
    const created = await post("/api/channels", { kind, name, config });
    const ch = { name, ...created, config: created.config || config };
    const list = $("channels-list");
    list.querySelector("p.muted")?.remove();
    list.append(channelCard(ch));
    const box = $("channel-created");
    box.replaceChildren(el("h3", {}, `“${name}” is ready`), channelGuide(ch, created));
    box.hidden = false;
    form.reset();
    renderChannelFields();
    toast("Channel created.", "ok", 3000);
  } catch (err) {
    report(err, "Could not create the channel");
  } finally {
    busy(form, false);
  }
});

// ---------------------------------------------------------------- API tokens

async function loadTokens() {
  const body = $("tokens-body");
  try {
    const page = await get("/api/tokens");
    clear(body);
    for (const t of page.items) body.append(tokenRow(t));
    if (!page.items.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No tokens.")));
  } catch (err) {
    report(err, "Could not load tokens");
  }
}

function tokenRow(t) {
  const revoke = el("button", { type: "button", class: "danger small" }, "Revoke");
  const row = el("tr", { dataset: { tokenId: t.id } },
    el("td", {}, t.name), el("td", {}, formatTime(t.created_at)),
    el("td", {}, t.last_used_at ? formatTime(t.last_used_at) : "never"), el("td", {}, revoke));
  revoke.addEventListener("click", async () => {
    if (!window.confirm(`Revoke the token “${t.name}”? Integrations using it stop working.`)) return;
    try {
      await del(`/api/tokens/${encodeURIComponent(t.id)}`);
      row.remove();
      toast("Token revoked.", "ok", 3000);
    } catch (err) {
      report(err, "Could not revoke");
    }
  });
  return row;
}

$("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    const created = await post("/api/tokens", { name: form.elements.name.value.trim() });
    const box = $("token-created");
    box.replaceChildren(el("p", { class: "warning" }, "Copy this token now; it will not be shown again:"), codeBlock(created.token, "Copy token"));
    box.hidden = false;
    form.reset();
    loadTokens();
  } catch (err) {
    report(err, "Could not create the token");
  } finally {
    busy(form, false);
  }
});

// ---------------------------------------------------------------- 2FA

function renderTwofa(on) {
  $("twofa-on").hidden = !on;
  $("twofa-off").hidden = on;
}

function loadSecurity() {
  renderTwofa(app.dataset.totp === "on");
}

$("twofa-start").addEventListener("click", async () => {
  const button = $("twofa-start");
  button.disabled = true;
  try {
    const setup = await post("/api/2fa/setup");
    // The QR is drawn by the server for this operator's pending secret: no secret in a URL.
    $("twofa-qr").src = "/settings/2fa/qr.svg?v=" + Date.now();
    $("twofa-secret").textContent = setup.secret.replace(/(.{4})/g, "$1 ").trim();
    $("twofa-secret").dataset.secret = setup.secret;
    $("twofa-backup").replaceChildren(...(setup.backup_codes || []).map((c) => el("li", {}, el("code", {}, c))));
    $("twofa-setup").hidden = false;
    button.textContent = "Start again with a new key";
    $("twofa-code").focus();
  } catch (err) {
    report(err, "Could not start the setup");
  } finally {
    button.disabled = false;
  }
});

$("twofa-enable-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const code = form.elements.otp.value.replace(/\s+/g, "");
  if (!/^\d{6}$/.test(code)) {
    toast("Enter the 6-digit code from your app.", "error");
    return;
  }
  busy(form, true);
  try {
    await post("/api/2fa/enable", { otp: code });
    app.dataset.totp = "on";
    renderTwofa(true);
    $("twofa-status").textContent = "Two-factor authentication is on. You will need a code at every sign-in.";
    toast("Two-factor authentication is on.", "ok");
    document.querySelector(".banner.warn")?.remove();
  } catch (err) {
    report(err, err.code === "invalid_otp" ? "Wrong code" : "Could not enable");
  } finally {
    busy(form, false);
  }
});

$("twofa-disable-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    await post("/api/2fa/disable", { otp: form.elements.otp.value.trim(), password: form.elements.password.value });
    app.dataset.totp = "off";
    form.reset();
    $("twofa-setup").hidden = true;
    renderTwofa(false);
    toast("Two-factor authentication is off.", "ok");
  } catch (err) {
    report(err, "Could not turn it off");
  } finally {
    busy(form, false);
  }
});

// ---------------------------------------------------------------- audit log


const LOADERS = {
  workspace: () => { loadWorkspace(); loadConsent(); }, operators: loadOperators, channels: loadChannels,
  teams: loadTeams, canned: loadCanned, hours: loadHours, calendars: loadCalendars, ai: loadAi, billing: loadBilling,
  tokens: loadTokens, security: loadSecurity, audit: () => loadAudit(false),
  profile: () => {},
};

wireTopbar();
// ---------------------------------------------------------------- my data
$("download-my-data").addEventListener("click", async () => {
  try {
    const response = await api("GET", "/api/me/export", undefined, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `my-data-${me.id}.json`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    toast("Your data was downloaded.", "ok", 3000);
  } catch (err) {
    report(err, "Could not download your data");
  }
});

showTab(new URLSearchParams(location.search).get("tab") || "workspace");
