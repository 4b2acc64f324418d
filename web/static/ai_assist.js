// Operator assist in the inbox: Summarise and Suggest reply, and the thread's AI call log.
//
// Hidden unless AI is on for the workspace (and the server names a provider). A suggested
// reply only fills the reply box: the operator edits it and sends it, or not.
"use strict";

import { clear, el, formatTime, get, post, report } from "./api.js";

const $ = (id) => document.getElementById(id);
let enabled = false;
let current = null;
let fillReply = () => {};

export async function setupAi(onSuggestion) {
  fillReply = onSuggestion;
  try {
    const ws = await get("/api/workspace");
    enabled = Boolean(ws.ai_enabled);
  } catch (err) {
    enabled = false;
  }
  $("ai-assist").hidden = !enabled;
  $("ai-summarise").addEventListener("click", () => ask("summary"));
  $("ai-suggest").addEventListener("click", () => ask("suggest-reply"));
}

export function aiConversationOpened(id) {
  current = id;
  $("ai-summary").hidden = true;
  if (enabled) loadCalls(id);
}

async function ask(what) {
  const id = current;
  if (!id) return;
  const buttons = [$("ai-summarise"), $("ai-suggest")];
  for (const b of buttons) b.disabled = true;
  try {
    const answer = await post(`/api/conversations/${encodeURIComponent(id)}/ai/${what}`, {});
    if (id !== current) return;
    if (what === "summary") {
      $("ai-summary").textContent = answer.summary;
      $("ai-summary").hidden = false;
    } else {
      fillReply(answer.text);
    }
  } catch (err) {
    report(err, "AI could not help this time");
  } finally {
    for (const b of buttons) b.disabled = false;
    if (id === current) loadCalls(id);
  }
}

async function loadCalls(id) {
  const list = $("ai-calls-list");
  try {
    const page = await get(`/api/conversations/${encodeURIComponent(id)}/ai-calls`);
    if (id !== current) return;
    clear(list);
    for (const call of page.items) list.append(callLine(call));
    $("ai-calls").hidden = page.items.length === 0;
  } catch (err) {
    $("ai-calls").hidden = true;
  }
}

function callLine(call) {
  const what = call.step ? `${call.feature} (step ${call.step})` : call.feature;
  const tokens = call.prompt_tokens + call.completion_tokens;
  const head = `${formatTime(call.at)} · ${what} · ${call.outcome}` +
    (call.model ? ` · ${call.model} · ${tokens} tokens · ${call.latency_ms} ms` : "") +
    (call.detail ? ` · ${call.detail}` : "");
  const sent = call.sent.map((m) => `${m.role}: ${m.content}`).join("\n\n");
  return el("li", { class: "ai-call" },
    el("details", {},
      el("summary", {}, head),
      el("p", { class: "muted small" }, "Sent to the provider:"),
      el("pre", { class: "ai-sent" }, sent || "(nothing)"),
      el("p", { class: "muted small" }, "Answer:"),
      el("pre", { class: "ai-answer" }, call.answer || "(none)")));
}
