// Settings → Teams: named groups of operators that flows route to (/api/teams). Owners and
// admins add, rename, change members and delete; everyone else reads.
"use strict";

import { del, el, get, me, patch, post, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);
let operators = [];

export async function loadTeams() {
  const list = $("teams-list");
  try {
    const [teams, ops] = await Promise.all([get("/api/teams"), get("/api/operators")]);
    operators = ops.items.filter((o) => !o.disabled);
    list.replaceChildren(...teams.items.map(teamCard));
    showEmpty();
  } catch (err) {
    report(err, "Could not load the teams");
  }
  if (!me.manager) {
    for (const c of $("team-form").querySelectorAll("input, button")) c.disabled = true;
  }
}

function showEmpty() {
  const list = $("teams-list");
  const empty = list.querySelector(".teams-empty");
  if (list.querySelector(".card-item")) empty?.remove();
  else if (!empty) list.append(el("p", { class: "muted teams-empty" }, "No teams yet. Add one below, e.g. Sales or Support."));
}

function teamCard(team) {
  const name = el("input", { type: "text", value: team.name, maxlength: 200, "aria-label": "Team name", required: true });
  const boxes = operators.map((op) => el("label", { class: "check" },
    el("input", { type: "checkbox", value: op.id, checked: team.operator_ids.includes(op.id) }), op.name));
  const save = el("button", { type: "submit", class: "primary small" }, "Save team");
  const remove = el("button", { type: "button", class: "danger small" }, "Delete");
  const card = el("form", { class: "card-item stack", dataset: { teamId: team.id }, "aria-label": `Team ${team.name}` },
    el("header", {}, name, remove),
    el("div", { class: "team-members", role: "group", "aria-label": "Members" }, boxes),
    el("div", { class: "row" }, save));
  card.addEventListener("submit", async (event) => {
    event.preventDefault();
    const operator_ids = boxes.map((b) => b.firstChild).filter((c) => c.checked).map((c) => c.value);
    try {
      const saved = await patch(`/api/teams/${encodeURIComponent(team.id)}`, { name: name.value.trim(), operator_ids });
      Object.assign(team, saved);
      card.setAttribute("aria-label", `Team ${saved.name}`);
      toast(`Team “${saved.name}” saved.`, "ok", 3000);
    } catch (err) {
      report(err, "Could not save the team");
    }
  });
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete the team “${team.name}”? Flows that route to it then hand off to the shared queue.`)) return;
    try {
      await del(`/api/teams/${encodeURIComponent(team.id)}`);
      card.remove();
      showEmpty();
      toast("Team deleted.", "ok", 3000);
    } catch (err) {
      report(err, "Could not delete the team");
    }
  });
  if (!me.manager) for (const c of card.querySelectorAll("input, button")) c.disabled = true;
  return card;
}

$("team-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  try {
    const team = await post("/api/teams", { name: form.elements.name.value.trim(), operator_ids: [] });
    $("teams-list").append(teamCard(team));
    showEmpty();
    form.reset();
    toast(`Team “${team.name}” added; tick its members and save.`, "ok", 4000);
  } catch (err) {
    report(err, "Could not add the team");
  }
});
