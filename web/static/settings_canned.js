// Settings → Canned responses: the saved replies typed as "/shortcut" in the inbox's reply
// box. Everyone keeps personal ones; owners and admins also write the shared ones.
"use strict";

import { del, el, get, me, patch, post, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);

export async function loadCanned() {
  const form = $("canned-form");
  if (!me.manager) {
    form.elements.personal.value = "true";
    form.elements.personal.disabled = true;
  }
  try {
    const page = await get("/api/canned-responses");
    $("canned-body").replaceChildren(...page.items.map(cannedRow));
    showEmpty();
  } catch (err) {
    report(err, "Could not load the canned responses");
  }
}

function showEmpty() {
  $("canned-empty").hidden = $("canned-body").children.length > 0;
}

function cannedRow(item) {
  const mine = item.personal || me.manager;
  const text = el("textarea", { rows: 2, maxlength: 10000, "aria-label": `Text of /${item.shortcut}`, disabled: !mine, dir: "auto" });
  text.value = item.text;
  const save = el("button", { type: "button", class: "ghost small", disabled: !mine }, "Save");
  const remove = el("button", { type: "button", class: "danger small", disabled: !mine }, "Delete");
  const row = el("tr", { dataset: { shortcut: item.shortcut } },
    el("td", {}, el("code", {}, "/" + item.shortcut)),
    el("td", {}, text),
    el("td", {}, item.personal ? "Only me" : "Everyone"),
    el("td", {}, save, " ", remove));
  save.addEventListener("click", async () => {
    try {
      await patch(`/api/canned-responses/${encodeURIComponent(item.id)}`, { text: text.value });
      toast(`/${item.shortcut} saved.`, "ok", 3000);
    } catch (err) {
      report(err, "Could not save the canned response");
    }
  });
  remove.addEventListener("click", async () => {
    try {
      await del(`/api/canned-responses/${encodeURIComponent(item.id)}`);
      row.remove();
      showEmpty();
    } catch (err) {
      report(err, "Could not delete the canned response");
    }
  });
  return row;
}

$("canned-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const f = form.elements;
  try {
    const made = await post("/api/canned-responses", {
      shortcut: f.shortcut.value.trim().replace(/^\//, ""),
      text: f.text.value,
      personal: f.personal.value === "true",
    });
    $("canned-body").append(cannedRow(made));
    showEmpty();
    form.reset();
    if (!me.manager) f.personal.value = "true";
    toast(`/${made.shortcut} is ready: type it in the reply box.`, "ok", 3000);
  } catch (err) {
    report(err, "Could not add the canned response");
  }
});
