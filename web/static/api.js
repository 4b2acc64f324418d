// Shared helpers for the signed-in pages: JSON fetch with the CSRF header, toasts, the
// session-lost redirect (keeping drafts), safe DOM building (text nodes only, no HTML parsing).
"use strict";

const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const csrf = csrfMeta ? csrfMeta.content : "";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, code, detail, body = {}) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.body = body; // the whole answer, e.g. the `problems` of an invalid flow
  }
}

let leaving = false;
const beforeLeave = [];

/** Run `fn` right before a lost session sends this tab to /login (to save drafts). */
export function onSessionLost(fn) {
  beforeLeave.push(fn);
}

/** The session is gone: keep what the operator was typing, then sign in again. */
export function sessionLost() {
  if (leaving) return;
  leaving = true;
  for (const fn of beforeLeave) {
    try { fn(); } catch (err) { /* saving a draft must not block the redirect */ }
  }
  const next = location.pathname + location.search;
  location.assign("/login?next=" + encodeURIComponent(next) + "&expired=1");
}

/** fetch + JSON. Throws ApiError with the server's {error, detail}; 401 leaves the page. */
export async function api(method, url, body, { raw = false, file = null } = {}) {
  const headers = {};
  if (UNSAFE.has(method)) headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // A file goes as the raw body (the server reads its type from its bytes).
  if (file) headers["Content-Type"] = file.type || "application/octet-stream";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: file || (body === undefined ? undefined : JSON.stringify(body)),
    });
  } catch (err) {
    throw new ApiError(0, "network", "The server could not be reached. Check your connection and try again.");
  }
  if (response.status === 401) {
    sessionLost();
    throw new ApiError(401, "unauthorized", "Your session ended; sign in again.");
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    let detail = problem.detail;
    if (!detail) {
      detail = response.status >= 500
        ? `The server had a problem (HTTP ${response.status}). Try again in a moment.`
        : `The request was refused (HTTP ${response.status}).`;
    }
    if (problem.error === "2fa_required") {
      location.assign("/settings?tab=security");
    }
    throw new ApiError(response.status, problem.error || "http_" + response.status, detail, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const get = (url) => api("GET", url);
export const post = (url, body) => api("POST", url, body);
export const patch = (url, body) => api("PATCH", url, body);
export const del = (url) => api("DELETE", url);
export const upload = (url, file) => api("POST", url, undefined, { file });

/** A short notice at the corner; kind is "error", "ok" or "info". */
export function toast(message, kind = "info", ms = 6000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = el("div", { class: "toast " + kind, role: kind === "error" ? "alert" : "status" }, message);
  const close = el("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  close.addEventListener("click", () => item.remove());
  item.append(close);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

/** Report a failed call as a toast (session loss already navigates away). */
export function report(err, what) {
  if (err && err.status === 401) return;
  const detail = err && err.message ? err.message : String(err);
  toast(what ? `${what}: ${detail}` : detail, "error");
}

/**
 * Build an element. attrs are set with setAttribute (or as properties for a few names);
 * children are nodes or strings (strings become text nodes, never markup).
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key === "hidden" || key === "disabled" || key === "checked" || key === "selected") node[key] = Boolean(value);
    else if (key === "value") node.value = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export const me = (() => {
  const app = document.getElementById("app");
  return app ? {
    id: app.dataset.operatorId,
    name: app.dataset.operatorName,
    role: app.dataset.role,
    manager: app.dataset.role === "owner" || app.dataset.role === "admin",
  } : null;
})();

export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " +
      d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function formatBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "";
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
  return (n / 1024 / 1024).toFixed(1) + " MB";
}

/** The top bar: sign out, and nothing else needs a script there. */
export function wireTopbar() {
  const button = document.getElementById("logout");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", "/api/logout");
    } catch (err) {
      if (err.status !== 401) report(err, "Sign out failed");
      button.disabled = false;
      if (err.status !== 401) return;
    }
    sessionStorage.clear();
    location.assign("/login");
  });
}

const KIND_LABELS = {
  widget: ["Web", "Website widget"],
  whatsapp: ["WA", "WhatsApp"],
  messenger: ["FB", "Messenger"],
  instagram: ["IG", "Instagram"],
  viber: ["Vb", "Viber"],
  custom: ["API", "Custom adapter"],
};

/** A small coloured badge naming a channel kind (text only; colours come from CSS). */
export function channelIcon(kind, node) {
  const [short, long] = KIND_LABELS[kind] || ["?", kind || "channel"];
  const badge = node || el("span");
  badge.className = "channel-icon kind-" + (KIND_LABELS[kind] ? kind : "other");
  badge.textContent = short;
  badge.title = long;
  badge.setAttribute("aria-label", long);
  return badge;
}

export function kindName(kind) {
  return (KIND_LABELS[kind] || [null, kind])[1];
}
