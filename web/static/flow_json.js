// The JSON view of a flow, for those who prefer it: the draft as the plain document
// (trigger, start, steps), edited as text; "Apply JSON" replaces the draft when it reads.
"use strict";

const $ = (id) => document.getElementById(id);

/** What `text` says as a flow document, or the sentence that says why it is not one. */
export function readDocument(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: "This is not valid JSON: " + err.message };
  }
  const steps = value && typeof value === "object" ? value.steps : null;
  if (!steps || typeof steps !== "object" || Array.isArray(steps)) {
    return { error: "The document is an object with trigger, start and steps (an object of step name to step)." };
  }
  const odd = Object.keys(steps).find((id) => !steps[id] || typeof steps[id] !== "object" || Array.isArray(steps[id]));
  if (odd !== undefined) return { error: `The step “${odd}” must be an object with a type.` };
  const trigger = value.trigger && typeof value.trigger === "object" ? value.trigger : { on: "conversation_started" };
  return { doc: { trigger, start: typeof value.start === "string" ? value.start : "", steps } };
}

/**
 * Wire the view: `current()` answers the document to show, `apply(doc)` takes an edited one.
 * Returns {show()} to fill the text from the draft.
 */
export function jsonView({ current, apply, editable }) {
  const text = $("json-text");
  const error = $("json-error");
  text.readOnly = !editable;
  $("json-apply").addEventListener("click", () => {
    const read = readDocument(text.value);
    error.textContent = read.error || "";
    if (read.doc) apply(read.doc);
  });
  return {
    show() {
      text.value = JSON.stringify(current(), null, 2);
      error.textContent = "";
    },
  };
}
