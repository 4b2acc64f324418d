// Reports: customer satisfaction (GET /api/reports/csat), overall, per operator, per team.
"use strict";

import { el, get, report, wireTopbar } from "./api.js";

const $ = (id) => document.getElementById(id);

function average(value) {
  return value == null ? "—" : value.toFixed(2).replace(/\.?0+$/, "");
}

function rows(tbody, groups, unnamed) {
  tbody.replaceChildren(...(groups.length ? groups.map((g) => el("tr", { dataset: { id: g.id } },
    el("td", { dir: "auto" }, g.name || unnamed),
    el("td", {}, String(g.requested)),
    el("td", {}, String(g.responses)),
    el("td", { class: "csat-average" }, average(g.average)),
  )) : [el("tr", {}, el("td", { colspan: "4", class: "muted" }, "No surveys in this period."))]));
}

async function load() {
  const days = $("csat-days").value;
  try {
    const body = await get(`/api/reports/csat?days=${encodeURIComponent(days)}`);
    const o = body.overall;
    $("csat-overall").textContent = o.responses
      ? `Average ${average(o.average)} out of 5 from ${o.responses} of ${o.requested} surveys answered.`
      : `${o.requested} surveys sent, none answered yet.`;
    rows($("csat-operators").tBodies[0], body.operators, "Former operator");
    rows($("csat-teams").tBodies[0], body.teams, "Former team");
  } catch (err) {
    if (err.status === 403) { $("csat-denied").hidden = false; return; }
    report(err, "Could not load the report");
  }
}

wireTopbar();
$("csat-days").addEventListener("change", load);
load();
