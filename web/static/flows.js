// The Studio's Flows page: the list of flows, and the editor of one: its canvas, the form
// of the selected step (or the flow's settings), problems from POST /api/flows/validate on
// their steps, the draft saved as it is edited, publish/unpublish, a JSON view, and the
// "Try it" panel (flow_try.js).
"use strict";

import { ApiError, del, el, get, me, patch, post, report, toast, wireTopbar } from "./api.js";
import { drawFlow } from "./flow_canvas.js";
import { flowForm, showProblems, stepForm } from "./flow_forms.js";
import { cleaned, exits, freshId, hasNext, newStep, removeStep, renameStep, setPath, STEP_TYPES } from "./flow_steps.js";
import { jsonView } from "./flow_json.js";
import { tryPanel } from "./flow_try.js";

const $ = (id) => document.getElementById(id);
const editable = Boolean(me && me.manager);
const STARTER = {
  trigger: { on: "conversation_started" },
  start: "greeting",
  steps: { greeting: { type: "send", text: "Hi! Thanks for writing to us." } },
};

const state = {
  flows: [],
  flow: null, // the flow as the server answered it (name, priority, status, version)
  doc: null, // the draft being edited: {trigger, start, steps}
  selected: null,
  problems: { flow: [], steps: {} },
  editedSincePublish: false,
};

// ------------------------------------------------------------------ the list

async function loadList() {
  try {
    state.flows = (await get("/api/flows")).items;
  } catch (err) {
    report(err, "Could not load the flows");
    return;
  }
  drawList();
}

function drawList() {
  const list = $("flow-list");
  list.replaceChildren(...state.flows.map((f) => {
    const link = el("a", { href: "#" + f.id, class: "flow-item", "aria-current": state.flow?.id === f.id ? "page" : null },
      el("span", { class: "flow-item-name" }, f.name),
      el("span", { class: "pill " + (f.status === "published" ? "status-open" : "status-resolved") },
        f.status === "published" ? `live v${f.version}` : "draft"));
    return el("li", {}, link);
  }));
  $("flow-list-empty").hidden = state.flows.length > 0;
}

$("new-flow").hidden = !editable;
$("new-flow").addEventListener("click", async () => {
  try {
    const flow = await post("/api/flows", { name: "New flow", ...STARTER });
    state.flows.push(flow);
    location.hash = flow.id;
  } catch (err) {
    report(err, "Could not create the flow");
  }
});

window.addEventListener("hashchange", () => openFlow(location.hash.slice(1)));

// ------------------------------------------------------------------ one flow

async function openFlow(id) {
  await saveNow();
  if (!id) {
    state.flow = null;
    $("flow-editor").hidden = true;
    $("flow-none").hidden = false;
    drawList();
    return;
  }
  let flow;
  try {
    flow = await get(`/api/flows/${encodeURIComponent(id)}`);
  } catch (err) {
    report(err, "Could not open the flow");
    return;
  }
  state.flow = flow;
  const steps = {};
  for (const [key, step] of Object.entries(flow.steps || {})) {
    steps[key] = step && typeof step === "object" && !Array.isArray(step) ? step : {}; // the validator names it
  }
  state.doc = { trigger: flow.trigger || { on: "conversation_started" }, start: flow.start || "", steps };
  state.selected = null;
  state.problems = { flow: [], steps: {} };
  state.editedSincePublish = false;
  setSaveState("");
  $("flow-editor").hidden = false;
  $("flow-none").hidden = true;
  drawList();
  drawHead();
  rebuild({ save: false });
  showView("canvas");
  if (!$("try-panel").hidden) trial.restart();
}

function drawHead() {
  const f = state.flow;
  $("flow-title").textContent = f.name || "Untitled flow";
  const live = f.status === "published";
  const pill = $("flow-status");
  pill.textContent = live
    ? `Live · version ${f.version}${state.editedSincePublish ? " · edited, publish to apply" : ""}`
    : f.version ? `Not live · last version ${f.version}` : "Draft, not live";
  pill.className = "pill " + (live ? "status-open" : "status-resolved");
  $("unpublish").hidden = !editable || !live;
  for (const node of document.querySelectorAll(".editor-only")) if (!editable) node.hidden = true;
}

/** Something small changed (typing): redraw the canvas, validate and save soon. */
function changed() {
  state.editedSincePublish = state.flow.status === "published";
  drawHead();
  drawCanvas();
  later("validate", validate, 350);
  if (editable) later("save", saveNow, 700);
  setSaveState("Unsaved changes…");
}

/** Something structural changed: redraw the side panel too. */
function rebuild({ save = true } = {}) {
  drawCanvas();
  drawSide();
  later("validate", validate, 0);
  if (save) changed();
}

function drawCanvas() {
  drawFlow($("flow-canvas"), state.doc, {
    selected: state.selected,
    problems: state.problems.steps,
    names: lookups.names,
    editable,
    onSelect: (id) => {
      state.selected = id;
      drawCanvas();
      drawSide();
      showSide("edit");
    },
    onConnect: connect,
  });
}

function drawSide() {
  const panel = $("side-panel");
  const id = state.selected;
  if (id && id in state.doc.steps) {
    panel.replaceChildren(stepForm(id, {
      doc: state.doc,
      problems: state.problems.steps[id] || [],
      teams: lookups.teams,
      operators: lookups.operators,
      editable,
      changed,
      rebuild,
      rename: (to) => rename(id, to),
      remove: () => {
        removeStep(state.doc, id);
        state.selected = null;
        rebuild();
      },
      makeStart: () => {
        state.doc.start = id;
        rebuild();
      },
      addStep: (path, type) => {
        const added = freshId(state.doc.steps, type);
        state.doc.steps[added] = newStep(type);
        setPath(state.doc.steps[id], path, added);
        state.selected = added;
        rebuild();
      },
    }));
  } else {
    state.selected = null;
    panel.replaceChildren(flowForm(state.flow, state.doc, { problems: state.problems.flow, channels: lookups.channels, editable, changed: () => {
      $("flow-title").textContent = state.flow.name;
      changed();
    } }));
  }
}

function rename(from, to) {
  if (to === from) return "";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(to)) return "A step name is 1 to 64 letters, digits, _ or -.";
  if (to in state.doc.steps) return `There is already a step “${to}”.`;
  renameStep(state.doc, from, to);
  state.selected = to;
  rebuild();
  return "";
}

/** A drag on the canvas from one step's handle onto another. */
function connect(from, to) {
  const step = state.doc.steps[from];
  const open = exits(step).find((e) => !e.target);
  if (hasNext(step.type) || (!open && "next" in step)) step.next = to;
  else if (open) setPath(step, open.path, to);
  else {
    toast("Every exit of this step is set; change one in its form.", "info", 4000);
    return;
  }
  state.selected = from;
  rebuild();
}

// ------------------------------------------------------------------ validate and save

const timers = {};
function later(name, fn, ms) {
  clearTimeout(timers[name]);
  timers[name] = setTimeout(fn, ms);
}

let validations = 0;
async function validate() {
  if (!state.doc) return;
  const ticket = ++validations;
  let problems = [];
  try {
    await post("/api/flows/validate", cleaned(state.doc));
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "invalid_flow")) return report(err, "Could not check the flow");
    problems = err.body.problems || [];
  }
  if (ticket === validations) showValidation(problems); // a newer check is on its way otherwise
}

/** The validator's sentence, said for people where an exit was left empty. */
function plain(detail) {
  return detail.replace(/^'([^']+)' goes to '', which does not exist\.$/, "“$1” does not lead anywhere yet: pick the step it goes to.");
}

function showValidation(problems) {
  const byStep = {};
  const flowLevel = [];
  for (const p of problems.map((q) => ({ step: q.step, detail: plain(q.detail) }))) {
    if (p.step && p.step in state.doc.steps) (byStep[p.step] ||= []).push(p.detail);
    else flowLevel.push(p.step ? `${p.step}: ${p.detail}` : p.detail);
  }
  state.problems = { flow: flowLevel, steps: byStep };
  drawCanvas();
  showProblems($("side-panel").firstChild, state.selected ? byStep[state.selected] || [] : flowLevel);
  const summary = $("problem-summary");
  summary.hidden = problems.length === 0;
  summary.textContent = problems.length === 0 ? "" : `${problems.length} problem${problems.length > 1 ? "s" : ""} to fix before publishing`
    + (flowLevel.length ? `: ${flowLevel.join(" ")}` : ". Steps with problems are outlined in red.");
}

let saving = null;
async function saveNow() {
  clearTimeout(timers.save);
  while (saving) await saving; // one PATCH at a time, so they land in order
  if (!editable || !state.flow || !state.dirty) return;
  state.dirty = false;
  const flow = state.flow;
  const body = { name: flow.name.trim() || "Untitled flow", priority: Number(flow.priority) || 0, ...cleaned(state.doc) };
  setSaveState("Saving…");
  saving = patch(`/api/flows/${encodeURIComponent(flow.id)}`, body).then((saved) => {
    Object.assign(flow, { status: saved.status, version: saved.version, updated_at: saved.updated_at });
    const item = state.flows.find((f) => f.id === saved.id);
    if (item) Object.assign(item, { name: saved.name, status: saved.status, version: saved.version });
    drawList();
    setSaveState(state.dirty ? "Unsaved changes…" : "Draft saved");
  }).catch((err) => {
    state.dirty = true;
    setSaveState("Not saved");
    report(err, "Could not save the draft");
  });
  await saving;
  saving = null;
}

function setSaveState(text) {
  if (text === "Unsaved changes…") state.dirty = true;
  $("save-state").textContent = text;
}

window.addEventListener("beforeunload", (event) => {
  if (state.dirty) event.preventDefault();
});

// ------------------------------------------------------------------ publish, delete

$("publish").addEventListener("click", async () => {
  await saveNow();
  const button = $("publish");
  button.disabled = true;
  try {
    const flow = await post(`/api/flows/${encodeURIComponent(state.flow.id)}/publish`);
    Object.assign(state.flow, flow);
    state.editedSincePublish = false;
    Object.assign(state.flows.find((f) => f.id === flow.id) || {}, flow);
    drawList();
    drawHead();
    toast(`“${flow.name}” is live as version ${flow.version}.`, "ok", 4000);
  } catch (err) {
    if (err instanceof ApiError && err.code === "invalid_flow") {
      showValidation(err.body.problems || []);
      toast("Fix the problems outlined in red, then publish again.", "error");
    } else {
      report(err, "Could not publish");
    }
  } finally {
    button.disabled = false;
  }
});

$("unpublish").addEventListener("click", async () => {
  try {
    const flow = await post(`/api/flows/${encodeURIComponent(state.flow.id)}/unpublish`);
    Object.assign(state.flow, flow);
    Object.assign(state.flows.find((f) => f.id === flow.id) || {}, flow);
    drawList();
    drawHead();
    toast("The flow is no longer live; runs already going finish on their version.", "ok", 4000);
  } catch (err) {
    report(err, "Could not unpublish");
  }
});

$("delete-flow").addEventListener("click", async () => {
  if (!window.confirm(`Delete the flow “${state.flow.name}”? This cannot be undone.`)) return;
  try {
    state.dirty = false;
    await del(`/api/flows/${encodeURIComponent(state.flow.id)}`);
    state.flows = state.flows.filter((f) => f.id !== state.flow.id);
    history.replaceState(null, "", location.pathname);
    openFlow("");
    toast("Flow deleted.", "ok", 3000);
  } catch (err) {
    report(err, "Could not delete the flow");
  }
});

// ------------------------------------------------------------------ add step, views

$("add-step-type").replaceChildren(...Object.entries(STEP_TYPES).map(([type, t]) => el("option", { value: type }, t.name)));
$("add-step").addEventListener("click", () => {
  const type = $("add-step-type").value;
  const id = freshId(state.doc.steps, type);
  state.doc.steps[id] = newStep(type);
  if (!state.doc.start) state.doc.start = id;
  state.selected = id;
  rebuild();
  showSide("edit");
});

function showView(view) {
  $("canvas-wrap").hidden = view !== "canvas";
  $("json-view").hidden = view !== "json";
  $("view-canvas").setAttribute("aria-pressed", String(view === "canvas"));
  $("view-json").setAttribute("aria-pressed", String(view === "json"));
  if (view === "json") json.show();
}
$("view-canvas").addEventListener("click", () => showView("canvas"));
$("view-json").addEventListener("click", () => showView("json"));
const json = jsonView({
  current: () => cleaned(state.doc),
  editable,
  apply: (doc) => {
    state.doc = doc;
    state.selected = null;
    rebuild();
    toast("JSON applied.", "ok", 2000);
  },
});

function showSide(tab) {
  $("side-panel").hidden = tab !== "edit";
  $("try-panel").hidden = tab !== "try";
  $("tab-edit").setAttribute("aria-selected", String(tab === "edit"));
  $("tab-try").setAttribute("aria-selected", String(tab === "try"));
}
const trial = tryPanel($("try-panel"), () => cleaned(state.doc));
const openTry = async () => {
  showSide("try");
  await saveNow();
  trial.restart();
  $("try-panel").scrollIntoView({ block: "nearest" });
};
$("tab-edit").addEventListener("click", () => showSide("edit"));
$("tab-try").addEventListener("click", openTry);
$("try-open").addEventListener("click", openTry);

// ------------------------------------------------------------------ teams and operators

const lookups = { teams: [], operators: [], channels: [], names: {} };
async function loadLookups() {
  const [teams, operators, channels] = await Promise.allSettled([get("/api/teams"), get("/api/operators"), get("/api/channels")]);
  if (channels.status === "fulfilled") lookups.channels = channels.value.items;
  if (teams.status === "fulfilled") lookups.teams = teams.value.items;
  if (operators.status === "fulfilled") lookups.operators = operators.value.items.filter((o) => !o.disabled);
  for (const item of [...lookups.teams, ...lookups.operators]) lookups.names[item.id] = item.name;
}

wireTopbar();
$("new-flow").disabled = true; // until the list is in, so a new flow lands in it
await Promise.all([loadList(), loadLookups()]);
$("new-flow").disabled = false;
if (!state.flow) openFlow(location.hash.slice(1) || state.flows[0]?.id || "");
