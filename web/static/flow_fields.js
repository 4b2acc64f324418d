// Small form widgets for the Studio's step forms, each bound to one field of a step: typing
// changes the step at once and calls `changed()`. Built with el() only (text, never markup).
"use strict";

import { el } from "./api.js";
import { STEP_TYPES, typeName } from "./flow_steps.js";

let uid = 0;
const nextId = () => `ff-${++uid}`;

/** A labelled control: <label for> + control, so tests and screen readers find it by name. */
export function labelled(text, control, hint) {
  control.id ||= nextId();
  return el("div", { class: "field" }, el("label", { for: control.id }, text), control, hint ? el("small", { class: "muted" }, hint) : null);
}

export function textField(obj, key, label, changed, { multiline = false, placeholder, hint, list } = {}) {
  const input = multiline
    ? el("textarea", { rows: 3, placeholder })
    : el("input", { type: "text", placeholder, list });
  input.value = obj[key] ?? "";
  input.addEventListener("input", () => {
    obj[key] = input.value;
    changed();
  });
  return labelled(label, input, hint);
}

export function numberField(obj, key, label, changed, { min, max, optional = false, hint, placeholder } = {}) {
  const input = el("input", { type: "number", min, max, step: 1, inputmode: "numeric", placeholder });
  input.value = obj[key] ?? "";
  input.addEventListener("input", () => {
    if (input.value === "" && optional) delete obj[key];
    else obj[key] = input.value === "" ? 0 : Number(input.value);
    changed();
  });
  return labelled(label, input, hint);
}

export function selectField(obj, key, label, choices, changed, { hint } = {}) {
  const select = el("select", {}, choices.map(([value, text]) => el("option", { value }, text)));
  select.value = obj[key] ?? "";
  select.addEventListener("change", () => {
    obj[key] = select.value;
    changed();
  });
  return labelled(label, select, hint);
}

/** A comma-separated list of words kept as an array. */
export function listField(obj, key, label, changed, { placeholder, hint } = {}) {
  const input = el("input", { type: "text", placeholder });
  input.value = (obj[key] || []).join(", ");
  input.addEventListener("input", () => {
    obj[key] = input.value.split(",").map((s) => s.trim()).filter(Boolean);
    changed();
  });
  return labelled(label, input, hint);
}

/** "key = value" lines kept as an object of strings (an http body or its saved fields). */
export function mapField(obj, key, label, changed, { placeholder, hint } = {}) {
  const input = el("textarea", { rows: 3, placeholder });
  input.value = Object.entries(obj[key] || {}).map(([k, v]) => `${k} = ${v}`).join("\n");
  input.addEventListener("input", () => {
    const map = {};
    for (const line of input.value.split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) map[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    if (Object.keys(map).length) obj[key] = map;
    else delete obj[key];
    changed();
  });
  return labelled(label, input, hint);
}

export const SAVE_TARGETS = ["contact.name", "contact.email", "contact.phone", "contact.attributes.", "vars."];

/** The datalist of places a value can be saved (one per page). */
export function saveTargetList() {
  let list = document.getElementById("save-targets");
  if (!list) {
    list = el("datalist", { id: "save-targets" }, SAVE_TARGETS.map((v) => el("option", { value: v })));
    document.body.append(list);
  }
  return list.id;
}

/**
 * Where an exit goes: "ends the flow", any other step, or a new step of a chosen type
 * (`addStep(type)` creates it, connects it, and the caller redraws).
 */
export function targetSelect(current, steps, selfId, onPick, addStep) {
  const select = el("select", {},
    el("option", { value: "" }, "— the flow ends —"),
    el("optgroup", { label: "Go to a step" },
      Object.entries(steps).filter(([id]) => id !== selfId).map(([id, step]) => el("option", { value: id }, `${id} · ${typeName(step.type)}`))),
    addStep ? el("optgroup", { label: "Add a new step" },
      Object.entries(STEP_TYPES).map(([type, t]) => el("option", { value: "new:" + type }, "+ " + t.name))) : null);
  if (current && !(current in steps)) select.prepend(el("option", { value: current }, `${current} (missing)`));
  select.value = current || "";
  select.addEventListener("change", () => {
    if (select.value.startsWith("new:")) addStep(select.value.slice(4));
    else onPick(select.value);
  });
  return select;
}

export function idSelect(obj, key, label, items, changed, { none = "— none —", hint } = {}) {
  const choices = [["", none], ...items.map((i) => [i.id, i.name])];
  if (obj[key] && !items.some((i) => i.id === obj[key])) choices.push([obj[key], `${obj[key]} (unknown)`]);
  return selectField(obj, key, label, choices, changed, { hint });
}
