// Canned responses in the reply box: type "/" and a shortcut, pick one (arrows and Enter
// or Tab, or a click), and its text replaces "/shortcut", with {{contact.name}} and the
// other variables filled in. A value that is missing becomes nothing; the text only ever
// goes into the textarea's value, never into HTML.
"use strict";

import { el, get, report } from "./api.js";

const MAX_SHOWN = 8;
const VARIABLE = /\{\{\s*([\w.]+)\s*\}\}/g;

/** ``text`` with each {{name}} replaced by ``vars[name]``; unknown or missing → "". */
export function renderCanned(text, vars) {
  return String(text).replace(VARIABLE, (_, key) =>
    Object.prototype.hasOwnProperty.call(vars, key) && vars[key] != null ? String(vars[key]) : "");
}

/**
 * Wire the "/" menu to ``textarea``. ``variables()`` resolves to the values for the open
 * conversation; ``onInserted()`` runs after an insertion (drafts, counters).
 */
export function attachCanned({ textarea, menu, variables, onInserted }) {
  let all = null;         // loaded at the first "/", then kept for the page's life
  let shown = [];
  let index = 0;
  let start = 0;          // where the "/" is in the textarea's value
  let generation = 0;     // bumped by every update and insertion: a late answer is dropped

  async function load() {
    if (all) return all;
    try {
      all = (await get("/api/canned-responses")).items;
    } catch (err) {
      report(err, "Could not load canned responses");
      all = [];
    }
    return all;
  }

  /** The "/prefix" just before the caret, at the start or after a space; else null. */
  function typed() {
    const before = textarea.value.slice(0, textarea.selectionStart);
    const found = /(^|\s)\/([\w-]*)$/u.exec(before);
    return found ? { start: before.length - found[2].length - 1, prefix: found[2].toLowerCase() } : null;
  }

  function close() {
    shown = [];
    index = 0;
    menu.hidden = true;
    textarea.removeAttribute("aria-activedescendant");
  }

  function render() {
    menu.replaceChildren(...shown.map((item, i) => {
      const option = el("li", {
        id: "canned-" + i, role: "option", class: "canned-item" + (i === index ? " active" : ""),
        "aria-selected": i === index ? "true" : "false",
      }, el("strong", {}, "/" + item.shortcut), el("span", { class: "canned-text" }, item.text.slice(0, 90)));
      option.addEventListener("mousedown", (event) => { event.preventDefault(); insert(item); });
      return option;
    }));
    menu.hidden = false;
    textarea.setAttribute("aria-activedescendant", "canned-" + index);
  }

  async function update() {
    const mine = ++generation;
    if (!typed()) return close();
    const list = await load();
    if (mine !== generation) return; // a later keystroke or an insertion took over
    const now = typed();
    if (!now) return close();
    shown = list.filter((c) => c.shortcut.toLowerCase().startsWith(now.prefix)).slice(0, MAX_SHOWN);
    start = now.start;
    index = Math.min(index, Math.max(0, shown.length - 1));
    if (shown.length) render();
    else close();
  }

  async function insert(item) {
    const mine = ++generation;
    const from = start;
    const to = textarea.selectionStart;
    close();
    const text = renderCanned(item.text, await variables());
    if (mine !== generation) return; // the operator typed on meanwhile: leave their text be
    close();
    const value = textarea.value;
    textarea.value = value.slice(0, from) + text + value.slice(to);
    const caret = from + text.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    onInserted();
  }

  // Capture: runs before the reply box's own Enter-sends handler, which it then stops.
  textarea.addEventListener("keydown", (event) => {
    if (menu.hidden || !shown.length || event.isComposing) return;
    let handled = true;
    if (event.key === "ArrowDown") index = (index + 1) % shown.length;
    else if (event.key === "ArrowUp") index = (index - 1 + shown.length) % shown.length;
    else if (event.key === "Enter" || event.key === "Tab") insert(shown[index]);
    else if (event.key === "Escape") close();
    else handled = false;
    if (!handled) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!menu.hidden) render();
  }, { capture: true });
  textarea.addEventListener("input", update);
  textarea.addEventListener("blur", () => setTimeout(close, 150));
}
