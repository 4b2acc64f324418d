// Settings → Business hours: the workspace's weekly opening times in its time zone, and its
// holidays (PATCH /api/workspace {business_hours}). Flows' `hours` step and the
// `outside_hours` trigger read them; with none set the workspace counts as always open.
"use strict";

import { el, get, me, patch, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);
const DAYS = [["mon", "Monday"], ["tue", "Tuesday"], ["wed", "Wednesday"], ["thu", "Thursday"], ["fri", "Friday"], ["sat", "Saturday"], ["sun", "Sunday"]];
const CLOCK = "([01][0-9]|2[0-3]):[0-5][0-9]|24:00";
const WORKDAY = [["09:00", "17:00"]];

const UNSET = "No business hours are set: flows treat every moment as open. Adjust these and save to set them.";
let hours = null; // {timezone, weekly, holidays} being edited

export async function loadHours() {
  try {
    const ws = await get("/api/workspace");
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    hours = ws.business_hours
      ? JSON.parse(JSON.stringify(ws.business_hours))
      : { timezone: zone, weekly: Object.fromEntries(DAYS.map(([d]) => [d, ["sat", "sun"].includes(d) ? [] : WORKDAY.map((i) => [...i])])), holidays: [] };
    $("hours-state").textContent = ws.business_hours ? "" : UNSET;
  } catch (err) {
    report(err, "Could not load the business hours");
    return;
  }
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("timezones").replaceChildren(...zones.map((z) => el("option", { value: z })));
  draw();
  if (!me.manager) {
    for (const c of $("hours-form").querySelectorAll("input, button")) c.disabled = true;
  }
}

function draw() {
  $("hours-timezone").value = hours.timezone;
  hours.weekly ||= {};
  $("hours-days").replaceChildren(...DAYS.map(([day, name]) => dayRow(day, name)));
  drawHolidays();
}

function dayRow(day, name) {
  const intervals = (hours.weekly[day] ||= []);
  const open = el("input", { type: "checkbox", checked: intervals.length > 0, "aria-label": `Open on ${name}` });
  const cell = el("div", { class: "hours-day" });
  const drawIntervals = () => {
    cell.replaceChildren(...intervals.map((interval, i) => {
      const from = clock(interval, 0, `${name} opens`);
      const to = clock(interval, 1, `${name} closes`);
      const remove = el("button", { type: "button", class: "ghost small", "aria-label": `Remove ${name} hours ${i + 1}` }, "×");
      remove.addEventListener("click", () => {
        intervals.splice(i, 1);
        open.checked = intervals.length > 0;
        drawIntervals();
      });
      return el("div", { class: "interval" }, from, "–", to, remove);
    }));
    if (intervals.length) {
      const more = el("button", { type: "button", class: "link small" }, "add hours");
      more.addEventListener("click", () => {
        intervals.push(["13:00", "17:00"]);
        drawIntervals();
      });
      cell.append(more);
    } else {
      cell.append(el("span", { class: "muted" }, "Closed"));
    }
  };
  open.addEventListener("change", () => {
    intervals.splice(0, intervals.length, ...(open.checked ? WORKDAY.map((i) => [...i]) : []));
    drawIntervals();
  });
  drawIntervals();
  return el("tr", {}, el("td", { class: "hours-name" }, el("label", { class: "check" }, open, name)), el("td", {}, cell));
}

function clock(interval, index, label) {
  const input = el("input", { type: "text", value: interval[index], pattern: CLOCK, size: 5, inputmode: "numeric", required: true, "aria-label": label, placeholder: "09:00" });
  input.addEventListener("input", () => {
    interval[index] = input.value.trim();
  });
  return input;
}

function drawHolidays() {
  hours.holidays ||= [];
  hours.holidays.sort();
  $("holiday-list").replaceChildren(...hours.holidays.map((day) => {
    const remove = el("button", { type: "button", class: "tag-remove", "aria-label": `Remove holiday ${day}` }, "×");
    remove.addEventListener("click", () => {
      hours.holidays = hours.holidays.filter((d) => d !== day);
      drawHolidays();
    });
    return el("li", { class: "pill tag" }, day, remove);
  }));
}

$("holiday-add").addEventListener("click", () => {
  const day = $("holiday-date").value;
  if (!day) return;
  if (!hours.holidays.includes(day)) hours.holidays.push(day);
  $("holiday-date").value = "";
  drawHolidays();
});

$("hours-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  hours.timezone = $("hours-timezone").value.trim();
  await save(hours, "Business hours saved.");
});

$("hours-clear").addEventListener("click", async () => {
  if (!window.confirm("Remove the business hours? Flows will treat every moment as open.")) return;
  if (await save(null, "Business hours removed: always open.")) loadHours();
});

async function save(value, message) {
  try {
    const ws = await patch("/api/workspace", { business_hours: value });
    $("hours-state").textContent = ws.business_hours ? "" : UNSET;
    toast(message, "ok", 3000);
    return true;
  } catch (err) {
    report(err, "Could not save the business hours");
    return false;
  }
}
