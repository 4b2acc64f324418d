// The step types of a flow document, as the Studio knows them: a name people read, a new
// step's defaults, a one-line summary for the canvas, and where a step may go next
// (its exits). A step type the Studio does not know (a later `book` or `ai_*`) still has
// exits, found by their field names, and is edited as JSON.
"use strict";

export const STEP_TYPES = {
  send: { name: "Send a message", make: () => ({ text: "Hello! How can we help?" }) },
  ask: { name: "Ask a question", make: () => ({ text: "What is your email?", input: "email", save_as: "contact.email" }) },
  choose: { name: "Offer choices", make: () => ({ text: "How can we help?", options: [{ label: "Sales", next: "" }, { label: "Support", next: "" }] }) },
  branch: { name: "Branch on a value", make: () => ({ cases: [{ if: { var: "vars.answer", op: "equals", value: "yes" }, next: "" }], else: "" }) },
  hours: { name: "Business hours?", make: () => ({ open: "", closed: "" }) },
  set: { name: "Save a value", make: () => ({ save_as: "vars.source", value: "" }) },
  tag: { name: "Tag the conversation", make: () => ({ add: ["bot"] }) },
  assign: { name: "Assign", make: () => ({}) },
  handoff: { name: "Hand off to a person", make: () => ({}) },
  http: { name: "Call a web service", make: () => ({ method: "POST", url: "https://", on_error: "" }) },
  wait: { name: "Wait", make: () => ({ minutes: 5 }) },
  resolve: { name: "Resolve the conversation", make: () => ({}) },
  end: { name: "End the flow", make: () => ({}) },
};

export const TRIGGERS = {
  conversation_started: "A conversation starts",
  message: "A message has a keyword",
  no_reply: "No operator replied in time",
  outside_hours: "Someone writes outside business hours",
};

/** The step types that go on by `next` (and so can be followed by a new step). */
const NEXT_TYPES = new Set(["send", "ask", "set", "tag", "assign", "http", "wait"]);

export function typeName(type) {
  if (typeof type !== "string" || !type) return "No type (edit as JSON)";
  return STEP_TYPES[type]?.name || `${type} (edited as JSON)`;
}

export function hasNext(type) {
  return NEXT_TYPES.has(type);
}

/** A fresh step of `type` with its exits empty. */
export function newStep(type) {
  const known = STEP_TYPES[type];
  const step = { type, ...(known ? known.make() : {}) };
  if (hasNext(type)) step.next = "";
  return step;
}

/** A step id not taken yet, from the type: send_1, send_2, … */
export function freshId(steps, type) {
  const base = String(type).replace(/[^A-Za-z0-9_-]/g, "") || "step";
  for (let n = 1; ; n += 1) {
    if (!(`${base}_${n}` in steps)) return `${base}_${n}`;
  }
}

const EXIT_FIELDS = { next: "then", else: "else", open: "open", closed: "closed", on_error: "on error", on_invalid: "if invalid", on_timeout: "no answer", on_none: "none free", on_fail: "failed", on_unsure: "unsure" };

/**
 * Every exit of a step: {path, label, target}. `path` says where the target is kept
 * ("next", "options.0.next", "cases.1.next", "cases.vip" for a label map); target may be "".
 */
export function exits(step) {
  const out = [];
  if (!step || typeof step !== "object") return out;
  for (const [key, value] of Object.entries(step)) {
    if (typeof value === "string" && (key in EXIT_FIELDS || key.startsWith("on_"))) {
      out.push({ path: key, label: EXIT_FIELDS[key] || key.replace(/^on_/, ""), target: value });
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => {
        if (item && typeof item === "object" && typeof item.next === "string") {
          out.push({ path: `${key}.${i}.next`, label: caseLabel(item, i), target: item.next });
        }
      });
    } else if (key === "cases" && value && typeof value === "object") {
      for (const [label, target] of Object.entries(value)) {
        if (typeof target === "string") out.push({ path: `cases.${label}`, label, target });
      }
    }
  }
  return out;
}

function caseLabel(item, i) {
  if (typeof item.label === "string") return item.label;
  const cond = item.if;
  if (cond && typeof cond === "object") {
    return cond.op === "exists" ? `${cond.var} set` : `${cond.var} ${cond.op} ${cond.value ?? ""}`.trim();
  }
  return `#${i + 1}`;
}

/** Read or write the value at a dotted exit path of a step. */
export function getPath(step, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), step);
}

export function setPath(step, path, value) {
  const keys = path.split(".");
  let node = step;
  for (const key of keys.slice(0, -1)) node = node[key];
  node[keys[keys.length - 1]] = value;
}

/** One line that says what a step does, for its box on the canvas (`names`: id → name of
 * the workspace's teams and operators). */
export function summary(step, names = {}) {
  switch (step.type) {
    case "send": case "ask": case "choose": return step.text || "";
    case "branch": return `${(step.cases || []).length} case(s), else`;
    case "hours": return "open or closed?";
    case "set": return `${step.save_as || "?"} = ${step.value ?? ""}`;
    case "tag": return [...(step.add || []).map((t) => "+" + t), ...(step.remove || []).map((t) => "−" + t)].join(" ");
    case "assign": case "handoff": {
      const to = step.operator_id || step.team_id;
      return to ? "to " + (names[to] || to) : "to the shared queue";
    }
    case "http": return `${step.method || "POST"} ${step.url || ""}`;
    case "wait": return `${step.minutes ?? "?"} min`;
    default: return "";
  }
}

/** Rename a step and every exit (and the start) that goes to it. */
export function renameStep(doc, from, to) {
  const steps = {};
  for (const [id, step] of Object.entries(doc.steps)) steps[id === from ? to : id] = step;
  doc.steps = steps;
  for (const step of Object.values(steps)) {
    for (const exit of exits(step)) if (exit.target === from) setPath(step, exit.path, to);
  }
  if (doc.start === from) doc.start = to;
}

/** Remove a step; exits that went to it become empty (the validator then names them). */
export function removeStep(doc, id) {
  delete doc.steps[id];
  for (const step of Object.values(doc.steps)) {
    for (const exit of exits(step)) if (exit.target === id) setPath(step, exit.path, "");
  }
  if (doc.start === id) doc.start = Object.keys(doc.steps)[0] || "";
}

/**
 * The document as the server reads it: empty optional fields dropped (an empty `next`
 * means "the flow ends here").
 */
export function cleaned(doc) {
  const steps = {};
  for (const [id, step] of Object.entries(doc.steps || {})) {
    const copy = JSON.parse(JSON.stringify(step));
    for (const [key, value] of Object.entries(copy)) {
      if ((value === "" || value === null) && optional(copy.type, key)) delete copy[key];
    }
    steps[id] = copy;
  }
  return { trigger: cleanTrigger(doc.trigger), start: doc.start || "", steps };
}

const OPTIONAL = ["next", "on_invalid", "on_timeout", "retry_text", "team_id", "operator_id", "timeout_minutes"];

/** Whether a known step type may leave `key` out (a required field stays, even empty, so
 * the validator names it on its step and still checks the rest of the step). */
function optional(type, key) {
  if (!(type in STEP_TYPES)) return false;
  return OPTIONAL.includes(key) || (type === "choose" && key === "save_as");
}

function cleanTrigger(trigger) {
  const out = { on: trigger?.on || "conversation_started" };
  if (trigger?.channels?.length) out.channels = trigger.channels;
  if (trigger?.keywords?.length) out.keywords = trigger.keywords;
  if (trigger?.after_minutes != null && trigger.after_minutes !== "") out.after_minutes = Number(trigger.after_minutes);
  return out;
}
