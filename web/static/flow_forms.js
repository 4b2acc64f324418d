// The form of the selected step, one per step type, and the flow's own settings (name,
// trigger, priority). Typing edits the step in place and calls `changed()` (the page
// redraws the canvas, validates and saves); structural edits call `rebuild()`.
"use strict";

import { el, get, report } from "./api.js";
import { exits, getPath, setPath, TRIGGERS, typeName } from "./flow_steps.js";
import {
  idSelect, labelled, listField, mapField, numberField, saveTargetList, selectField, targetSelect, textField,
} from "./flow_fields.js";

const INPUTS = [["text", "Any text"], ["email", "An email address"], ["phone", "A phone number"], ["number", "A number"], ["date", "A date"]];
const OPS = [["equals", "equals"], ["contains", "contains"], ["matches", "matches the pattern"], ["exists", "is set"]];
const TEXT_HINT = "You may use {{contact.name}}, {{vars.key}} or {{message.text}}.";

/** Put the validator's problems for this form into its slot (kept in place while typing). */
export function showProblems(form, problems) {
  const slot = form?.querySelector(".problems-slot");
  if (!slot) return;
  slot.replaceChildren(...(problems.length
    ? [el("ul", { class: "problems", role: "alert" }, problems.map((p) => el("li", {}, p)))] : []));
}

function problemList(problems) {
  const slot = el("div", { class: "problems-slot" });
  showProblems({ querySelector: () => slot }, problems);
  return slot;
}

/**
 * The form of step `id`. ctx: {doc, problems: [detail], teams, operators, editable,
 * changed(), rebuild(), rename(newId) → error or "", remove(), makeStart(), addStep(path, type)}.
 */
export function stepForm(id, ctx) {
  const step = ctx.doc.steps[id];
  const form = el("form", { class: "step-form stack", "data-step": id, "aria-label": `Step ${id}` });
  form.addEventListener("submit", (e) => e.preventDefault());
  const idInput = el("input", { type: "text", value: id, maxlength: 64, pattern: "[A-Za-z0-9_\\-]{1,64}" });
  const idError = el("small", { class: "error" });
  idInput.addEventListener("change", () => {
    const error = ctx.rename(idInput.value.trim());
    idError.textContent = error || "";
  });
  form.append(
    el("header", { class: "step-form-head" },
      el("span", { class: "type-chip type-" + step.type }, typeName(step.type)),
      id === ctx.doc.start ? el("span", { class: "pill" }, "start") : null),
    problemList(ctx.problems),
    labelled("Step name", idInput), idError,
    ...fieldsOf(id, step, ctx));
  const actions = el("div", { class: "row" });
  if (id !== ctx.doc.start) {
    const start = el("button", { type: "button", class: "ghost small" }, "Start here");
    start.addEventListener("click", ctx.makeStart);
    actions.append(start);
  }
  const remove = el("button", { type: "button", class: "danger small" }, "Delete step");
  remove.addEventListener("click", ctx.remove);
  actions.append(remove);
  form.append(actions);
  if (!ctx.editable) for (const c of form.querySelectorAll("input, select, textarea, button")) c.disabled = true;
  return form;
}

function exitField(id, step, path, label, ctx) {
  const select = targetSelect(getPath(step, path) || "", ctx.doc.steps, id, (value) => {
    setPath(step, path, value);
    ctx.changed();
  }, (type) => ctx.addStep(path, type));
  return labelled(label, select);
}

function fieldsOf(id, step, ctx) {
  const c = ctx.changed;
  const next = (label = "Then") => exitField(id, step, "next", label, ctx);
  switch (step.type) {
    case "send":
      return [textField(step, "text", "Message", c, { multiline: true, hint: TEXT_HINT }), next()];
    case "ask":
      return [
        textField(step, "text", "Question", c, { multiline: true, hint: TEXT_HINT }),
        selectField(step, "input", "Expected answer", INPUTS, c),
        textField(step, "save_as", "Save the answer as", c, { list: saveTargetList(), placeholder: "contact.email", hint: "contact.name, contact.email, contact.phone, contact.attributes.<key> or vars.<key>" }),
        textField(step, "retry_text", "If the answer is not valid, say", c, { placeholder: "That doesn't look right, try again." }),
        numberField(step, "retries", "Ask again at most (times)", c, { min: 0, max: 10, optional: true, placeholder: "2" }),
        next("Then"),
        exitField(id, step, "on_invalid", "After too many wrong answers", ctx),
        numberField(step, "timeout_minutes", "Stop waiting after (minutes)", c, { min: 1, max: 43200, optional: true, placeholder: "never" }),
        exitField(id, step, "on_timeout", "If there is no answer in time", ctx),
      ];
    case "choose":
      return [
        textField(step, "text", "Question", c, { multiline: true, hint: TEXT_HINT }),
        optionsEditor(id, step, ctx),
        textField(step, "save_as", "Save the choice as (optional)", c, { list: saveTargetList(), placeholder: "vars.topic" }),
        textField(step, "retry_text", "If the answer matches no option, say", c),
        numberField(step, "retries", "Ask again at most (times)", c, { min: 0, max: 10, optional: true, placeholder: "2" }),
        exitField(id, step, "on_invalid", "After too many wrong answers", ctx),
      ];
    case "branch":
      return [casesEditor(id, step, ctx), exitField(id, step, "else", "Otherwise", ctx)];
    case "hours":
      return [
        el("p", { class: "muted small" }, "Uses the workspace's business hours (Settings → Business hours)."),
        exitField(id, step, "open", "While open", ctx), exitField(id, step, "closed", "While closed", ctx),
      ];
    case "set":
      return [
        textField(step, "save_as", "Save as", c, { list: saveTargetList(), placeholder: "vars.source" }),
        textField(step, "value", "Value", c, { hint: TEXT_HINT }), next(),
      ];
    case "tag":
      return [
        listField(step, "add", "Add tags", c, { placeholder: "vip, lead" }),
        listField(step, "remove", "Remove tags", c), next(),
      ];
    case "assign":
      return [
        idSelect(step, "team_id", "Team", ctx.teams, c, { hint: "A team: round robin among its members online." }),
        idSelect(step, "operator_id", "Operator", ctx.operators, c), next(),
      ];
    case "handoff":
      return [
        el("p", { class: "muted small" }, "Ends the flow; the conversation waits for a person."),
        idSelect(step, "team_id", "Team's queue", ctx.teams, c, { none: "— the shared queue —" }),
      ];
    case "http":
      return [
        selectField(step, "method", "Method", ["POST", "GET", "PUT", "PATCH", "DELETE"].map((m) => [m, m]), c),
        textField(step, "url", "URL", c, { placeholder: "https://example.com/hook", hint: "Signed with X-Inviaro-Signature; 10 s timeout." }),
        mapField(step, "body", "JSON body (one key = value a line)", c, { placeholder: "email = {{contact.email}}" }),
        mapField(step, "save", "Save from the answer (variable = json.path)", c, { placeholder: "order = json.order.status" }),
        next("When it succeeds"), exitField(id, step, "on_error", "When it fails", ctx),
        ctx.editable ? signingKey() : null,
      ];
    case "wait":
      return [numberField(step, "minutes", "Wait (minutes)", c, { min: 1, max: 43200 }), next()];
    case "resolve":
      return [el("p", { class: "muted small" }, "Marks the conversation resolved and ends the flow.")];
    case "end":
      return [el("p", { class: "muted small" }, "Ends the flow quietly.")];
    default:
      return [jsonEditor(id, step, ctx), ...exits(step).map((e) => exitField(id, step, e.path, `Exit: ${e.label}`, ctx))];
  }
}

/** The key that signs every http step's body, shown on request (the read is audited). */
function signingKey() {
  const out = el("code", { class: "code secret" });
  const show = el("button", { type: "button", class: "ghost small" }, "Show the signing key");
  show.addEventListener("click", async () => {
    try {
      out.textContent = (await get("/api/flows/secret")).secret;
      show.remove();
    } catch (err) {
      report(err, "Could not read the signing key");
    }
  });
  return el("div", { class: "stack" },
    el("small", { class: "muted" }, "Your service checks X-Inviaro-Signature: sha256=<HMAC-SHA256 of the raw body with this key>."), show, out);
}

function optionsEditor(id, step, ctx) {
  const box = el("fieldset", { class: "rows" }, el("legend", {}, "Options"));
  (step.options ||= []).forEach((option, i) => {
    const label = el("input", { type: "text", value: option.label, "aria-label": `Option ${i + 1} label` });
    label.addEventListener("input", () => {
      option.label = label.value;
      ctx.changed();
    });
    const target = targetSelect(option.next, ctx.doc.steps, id, (value) => {
      option.next = value;
      ctx.changed();
    }, (type) => ctx.addStep(`options.${i}.next`, type));
    target.setAttribute("aria-label", `Option ${i + 1} goes to`);
    const remove = el("button", { type: "button", class: "ghost small", "aria-label": `Remove option ${i + 1}` }, "×");
    remove.addEventListener("click", () => {
      step.options.splice(i, 1);
      ctx.rebuild();
    });
    box.append(el("div", { class: "option-row" }, el("span", { class: "muted" }, `${i + 1}.`), label, target, remove));
  });
  const add = el("button", { type: "button", class: "ghost small" }, "Add option");
  add.addEventListener("click", () => {
    step.options.push({ label: `Option ${step.options.length + 1}`, next: "" });
    ctx.rebuild();
  });
  box.append(add);
  return box;
}

function casesEditor(id, step, ctx) {
  const box = el("fieldset", { class: "rows" }, el("legend", {}, "Cases, the first that holds wins"));
  (step.cases ||= []).forEach((item, i) => {
    item.if ||= { var: "", op: "equals", value: "" };
    const cond = item.if;
    const variable = el("input", { type: "text", value: cond.var, list: saveTargetList(), "aria-label": `Case ${i + 1} value of` });
    const op = el("select", { "aria-label": `Case ${i + 1} test` }, OPS.map(([v, t]) => el("option", { value: v }, t)));
    op.value = cond.op;
    const value = el("input", { type: "text", value: cond.value ?? "", "aria-label": `Case ${i + 1} value`, hidden: cond.op === "exists" });
    variable.addEventListener("input", () => { cond.var = variable.value; ctx.changed(); });
    op.addEventListener("change", () => {
      cond.op = op.value;
      value.hidden = op.value === "exists";
      if (op.value === "exists") delete cond.value;
      else cond.value = value.value;
      ctx.changed();
    });
    value.addEventListener("input", () => { cond.value = value.value; ctx.changed(); });
    const target = targetSelect(item.next, ctx.doc.steps, id, (v) => { item.next = v; ctx.changed(); },
      (type) => ctx.addStep(`cases.${i}.next`, type));
    target.setAttribute("aria-label", `Case ${i + 1} goes to`);
    const remove = el("button", { type: "button", class: "ghost small", "aria-label": `Remove case ${i + 1}` }, "×");
    remove.addEventListener("click", () => { step.cases.splice(i, 1); ctx.rebuild(); });
    box.append(el("div", { class: "case-row" }, variable, op, value, target, remove));
  });
  const add = el("button", { type: "button", class: "ghost small" }, "Add case");
  add.addEventListener("click", () => {
    step.cases.push({ if: { var: "vars.", op: "equals", value: "" }, next: "" });
    ctx.rebuild();
  });
  box.append(add);
  return box;
}

/** A step type this Studio has no form for: its fields as JSON (the type stays). */
function jsonEditor(id, step, ctx) {
  const area = el("textarea", { rows: 10, class: "code", spellcheck: "false" });
  area.value = JSON.stringify(step, null, 2);
  const error = el("small", { class: "error" });
  const apply = el("button", { type: "button", class: "ghost small" }, "Apply JSON");
  apply.addEventListener("click", () => {
    try {
      const value = JSON.parse(area.value);
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("A step is a JSON object.");
      ctx.doc.steps[id] = { ...value, type: value.type || step.type };
      error.textContent = "";
      ctx.rebuild();
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return el("div", { class: "stack" }, labelled("Step fields (JSON)", area), error, apply);
}

/** Which channels the trigger listens on: none ticked means every channel. */
function channelsField(trigger, channels, changed) {
  const box = el("fieldset", { class: "rows" }, el("legend", {}, "On channels (none ticked: every channel)"));
  for (const channel of channels) {
    const check = el("input", { type: "checkbox", value: channel.id, checked: (trigger.channels || []).includes(channel.id) });
    check.addEventListener("change", () => {
      const ids = [...box.querySelectorAll("input:checked")].map((c) => c.value);
      if (ids.length) trigger.channels = ids;
      else delete trigger.channels;
      changed();
    });
    box.append(el("label", { class: "check" }, check, channel.name));
  }
  return channels.length ? box : null;
}

/** The flow's own settings: name, what starts it, on which channels, priority; its
 * flow-level problems. */
export function flowForm(flow, doc, ctx) {
  const form = el("form", { class: "step-form stack", "aria-label": "Flow settings" });
  form.addEventListener("submit", (e) => e.preventDefault());
  doc.trigger ||= { on: "conversation_started" };
  const trigger = doc.trigger;
  const extra = el("div", { class: "stack" });
  const drawExtra = () => {
    extra.replaceChildren();
    if (trigger.on === "message") extra.append(listField(trigger, "keywords", "Keywords (any of)", ctx.changed, { placeholder: "price, order, refund" }));
    if (trigger.on === "no_reply") extra.append(numberField(trigger, "after_minutes", "After (minutes without a reply)", ctx.changed, { min: 1, optional: true }));
  };
  drawExtra();
  const on = selectField(trigger, "on", "Starts when", Object.entries(TRIGGERS), () => {
    drawExtra();
    ctx.changed();
  });
  const name = el("input", { type: "text", value: flow.name, maxlength: 200, required: true });
  name.addEventListener("input", () => {
    flow.name = name.value;
    ctx.changed();
  });
  form.append(
    el("h3", {}, "Flow settings"),
    problemList(ctx.problems),
    labelled("Flow name", name),
    on, extra, channelsField(trigger, ctx.channels || [], ctx.changed),
    numberField(flow, "priority", "Priority", ctx.changed, { min: -1000, max: 1000, hint: "When two published flows match, the higher priority starts." }),
    el("p", { class: "muted small" }, "Select a step on the canvas to edit it."));
  if (!ctx.editable) for (const c of form.querySelectorAll("input, select, textarea, button")) c.disabled = true;
  return form;
}
