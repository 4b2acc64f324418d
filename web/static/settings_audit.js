// Settings → Audit log: entries with names (not ids), filtered by action and operator, and
// the same selection downloaded as CSV.
"use strict";

import { clear, el, formatTime, get, report } from "./api.js";

const $ = (id) => document.getElementById(id);
let cursor = null;
const seenActions = new Set();

function filters() {
  const form = $("audit-filters");
  const params = new URLSearchParams();
  const action = form.elements.action.value.trim();
  const actor = form.elements.actor_id.value;
  if (action) params.set("action", action);
  if (actor) params.set("actor_id", actor);
  return params;
}

function who(part, fallback) {
  if (!part) return "";
  if (part.name) return part.name;
  return part.kind ? `${fallback || part.kind}${part.id ? " · " + part.id.slice(-6) : ""}` : "";
}

async function loadOperators() {
  const select = $("audit-filters").elements.actor_id;
  if (select.options.length > 1) return;
  try {
    const page = await get("/api/operators");
    for (const op of page.items) select.append(el("option", { value: op.id }, op.name));
  } catch (err) {
    // The filter still works by action; the list of operators is a convenience.
  }
}

export async function loadAudit(more = false) {
  const body = $("audit-body");
  loadOperators();
  const params = filters();
  params.set("limit", "50");
  if (more && cursor) params.set("cursor", cursor);
  const csv = filters();
  $("audit-csv").href = "/api/audit.csv" + (csv.toString() ? "?" + csv : "");
  try {
    const page = await get("/api/audit?" + params);
    if (!more) clear(body);
    for (const e of page.items) {
      if (!seenActions.has(e.action)) {
        seenActions.add(e.action);
        $("audit-actions").append(el("option", { value: e.action }));
      }
      body.append(el("tr", {},
        el("td", {}, formatTime(e.at)),
        el("td", {}, el("code", {}, e.action)),
        el("td", { class: "audit-actor" }, who(e.actor)),
        el("td", { class: "audit-target" }, e.target?.kind ? `${who(e.target)} (${e.target.kind})` : ""),
        el("td", {}, e.ip || "")));
    }
    if (!page.items.length && !more) {
      body.append(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No entries match.")));
    }
    cursor = page.next_cursor || null;
    $("audit-more").hidden = !cursor;
  } catch (err) {
    if (err.status === 403) body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "Only owners and admins can read the audit log.")));
    else report(err, "Could not load the audit log");
  }
}

$("audit-more").addEventListener("click", () => loadAudit(true));
$("audit-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadAudit(false);
});
$("audit-filters").elements.actor_id.addEventListener("change", () => loadAudit(false));
