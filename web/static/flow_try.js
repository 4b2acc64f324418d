// "Try it": the draft runs against a simulated contact on the server's own interpreter
// (POST /api/flows/simulate, nothing stored, nothing sent). The panel keeps the contact's
// replies and replays them all on every turn, so what it shows is exactly what the engine
// would do with that conversation.
"use strict";

import { ApiError, el, post, report } from "./api.js";

const STATUS = {
  waiting: (r) => `Waiting for the contact (at step “${r.step}”).`,
  running: (r) => `Running (at step “${r.step}”).`,
  done: () => "The flow ended.",
  handed_off: () => "Handed off: the conversation now waits for a person.",
  failed: (r) => `The flow failed: ${r.error || "no reason given"}.`,
};

/** Wire the panel in `root`; `draft()` answers the document to run (trigger, start, steps). */
export function tryPanel(root, draft) {
  const $ = (sel) => root.querySelector(sel);
  const transcript = $(".try-transcript");
  const status = $(".try-status");
  const saved = $(".try-saved");
  const form = $(".try-form");
  const input = form.querySelector("input");
  let replies = [];
  let running = null; // the simulation on its way, if any
  let again = false; // the replies changed while it was

  /** Simulate with the replies so far; a change while one is on its way runs once more. */
  async function run() {
    if (running) {
      again = true;
      return;
    }
    running = simulate();
    await running;
    running = null;
    if (again) {
      again = false;
      run();
    }
  }

  async function simulate() {
    const doc = draft();
    if (doc.trigger.on === "message" && !replies.length) {
      show({ transcript: [], status: "idle" });
      status.textContent = `Type a message with one of the keywords (${(doc.trigger.keywords || []).join(", ") || "none yet"}) to start.`;
      return;
    }
    try {
      const result = await post("/api/flows/simulate", { ...doc, replies, contact: { name: "Sam" } });
      // A keyword trigger's first message starts the run; the engine does not echo it.
      if (doc.trigger.on === "message") result.transcript.unshift({ from: "contact", text: replies[0].text });
      show(result);
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_flow") {
        transcript.replaceChildren();
        saved.replaceChildren();
        status.textContent = "Fix the flow's problems to try it: " + err.detail;
        status.className = "try-status error";
      } else {
        report(err, "Could not try the flow");
      }
    }
  }

  function show(result) {
    const lines = result.transcript || [];
    const lastBot = lines.map((l) => l.from).lastIndexOf("bot");
    transcript.replaceChildren(...lines.map((line, i) => bubble(line, result.status === "waiting" && i === lastBot)));
    transcript.scrollTop = transcript.scrollHeight;
    status.textContent = STATUS[result.status] ? STATUS[result.status](result) : "";
    status.className = "try-status" + (result.status === "failed" ? " error" : "");
    saved.replaceChildren(...savedValues(result));
  }

  function bubble(line, tappable) {
    const item = el("li", { class: "try-line from-" + (line.from === "bot" ? "bot" : "contact") },
      el("p", { class: "text" }, line.text));
    if (line.options && line.options.length) {
      const buttons = el("div", { class: "try-options" });
      for (const option of line.options) {
        const button = el("button", { type: "button", class: "ghost small", disabled: !tappable }, option.label);
        button.addEventListener("click", () => answer(option.label, option.value));
        buttons.append(button);
      }
      item.append(buttons);
    }
    return item;
  }

  function savedValues(result) {
    const rows = [];
    const contact = result.contact || {};
    for (const key of ["name", "email", "phone"]) {
      if (contact[key]) rows.push(["contact." + key, contact[key]]);
    }
    for (const [key, value] of Object.entries(contact.attributes || {})) rows.push(["contact.attributes." + key, value]);
    for (const [key, value] of Object.entries(result.vars || {})) rows.push(["vars." + key, value]);
    if (!rows.length) return [];
    return [el("dt", { class: "try-saved-head" }, "Saved"), el("dd"), ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))])];
  }

  function answer(text, option) {
    for (const button of transcript.querySelectorAll(".try-options button")) button.disabled = true;
    replies.push(option === undefined ? { text } : { text, option });
    run();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    answer(text);
  });
  $(".try-restart").addEventListener("click", () => {
    replies = [];
    run();
  });

  return {
    /** Start over with the current draft. */
    restart() {
      replies = [];
      run();
    },
  };
}
