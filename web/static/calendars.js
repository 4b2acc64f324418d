// Settings → Calendars: connect Google or Outlook, see each connection's status, choose
// which calendars are read and which receives events, disconnect, remove cached booking
// data; and the booking types contacts can book.
"use strict";

import { clear, del, el, formatTime, get, me, patch, post, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);
const NAMES = { google: "Google Calendar", microsoft: "Outlook calendar" };
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"];
let calendars = [];

function statusText(c) {
  if (c.status === "connected") return "Connected";
  if (c.status === "broken") return "Broken: access could not be renewed. Disconnect and connect again.";
  const when = c.disconnected_at ? " on " + formatTime(c.disconnected_at) : "";
  const purge = c.cache_purged ? " Cached booking data removed." : " Cached booking data is removed 30 days after disconnecting.";
  return "Disconnected" + when + "." + purge;
}

function choices(c) {
  const form = el("form", { class: "grid-form" },
    el("label", {}, "Read for availability (calendar ids, comma-separated) ",
      el("input", { name: "availability", value: (c.availability_calendars || []).join(", ") })));
  if (c.provider === "google") {
    form.append(el("label", {}, "Receives the events ", el("input", { name: "event", value: c.event_calendar || "primary" })));
  }
  form.append(el("button", { type: "submit", class: "ghost small" }, "Save"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { availability_calendars: form.elements.availability.value.split(",").map((s) => s.trim()).filter(Boolean) };
    if (form.elements.event) body.event_calendar = form.elements.event.value.trim();
    try {
      await patch(`/api/calendars/${encodeURIComponent(c.id)}`, body);
      toast("Calendar choices saved.", "ok", 3000);
    } catch (err) {
      report(err, "Could not save the calendar choices");
    }
  });
  return form;
}

function calendarCard(c) {
  const card = el("article", { class: "card-item", dataset: { calendarId: c.id } },
    el("header", {}, el("strong", {}, NAMES[c.provider] || c.provider), el("span", { class: "muted" }, " " + (c.account || ""))),
    el("p", { class: c.status === "connected" ? "ok" : "warning" }, statusText(c)));
  if (c.note) card.append(el("p", { class: "muted small" }, c.note));
  if (!me.manager) return card;
  if (c.status !== "disconnected") {
    if (c.status === "connected") card.append(choices(c));
    const off = el("button", { type: "button", class: "danger small" }, "Disconnect");
    off.addEventListener("click", async () => {
      if (!window.confirm("Disconnect this calendar? Booking through it stops at once.")) return;
      try {
        await del(`/api/calendars/${encodeURIComponent(c.id)}`);
        toast("Calendar disconnected.", "ok", 3000);
        await loadCalendars();
      } catch (err) {
        report(err, "Could not disconnect the calendar");
      }
    });
    card.append(off);
  } else if (!c.cache_purged) {
    const purge = el("button", { type: "button", class: "ghost small" }, "Remove cached booking data now");
    purge.addEventListener("click", async () => {
      try {
        const done = await post(`/api/calendars/${encodeURIComponent(c.id)}/purge`);
        toast(`Removed ${done.removed} cached bookings.`, "ok", 3000);
        await loadCalendars();
      } catch (err) {
        report(err, "Could not remove the cached booking data");
      }
    });
    card.append(purge);
  }
  return card;
}

function bookingTypeCard(bt) {
  const remove = el("button", { type: "button", class: "danger small", hidden: !me.manager }, "Delete");
  const card = el("article", { class: "card-item" },
    el("header", {}, el("strong", {}, bt.name), el("span", { class: "muted" }, ` ${bt.duration_minutes} min · ${bt.hours.timezone}`), remove));
  remove.addEventListener("click", async () => {
    try {
      await del(`/api/booking-types/${encodeURIComponent(bt.id)}`);
      card.remove();
    } catch (err) {
      report(err, "Could not delete the booking type");
    }
  });
  return card;
}

export async function loadCalendars() {
  const list = $("calendars-list");
  const types = $("booking-types-list");
  try {
    calendars = (await get("/api/calendars")).items;
    clear(list);
    for (const c of calendars) list.append(calendarCard(c));
    if (!calendars.length) list.append(el("p", { class: "muted" }, "No calendar connected yet."));
    const select = $("booking-type-form").elements.calendar_id;
    clear(select);
    for (const c of calendars.filter((c) => c.status === "connected")) {
      select.append(el("option", { value: c.id }, `${NAMES[c.provider]} ${c.account || ""}`));
    }
    const page = await get("/api/booking-types");
    clear(types);
    for (const bt of page.items) types.append(bookingTypeCard(bt));
  } catch (err) {
    report(err, "Could not load calendars");
  }
  const form = $("booking-type-form");
  if (!form.elements.timezone.value) form.elements.timezone.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("calendar-connect").hidden = !me.manager;
  form.hidden = !me.manager;
}

for (const button of document.querySelectorAll("#calendar-connect button")) {
  button.addEventListener("click", async () => {
    try {
      const started = await post("/api/calendars/connect", { provider: button.dataset.provider });
      location.assign(started.authorize_url);
    } catch (err) {
      report(err, "Could not start connecting the calendar");
    }
  });
}

$("booking-type-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.currentTarget.elements;
  const [open, close] = f.hours.value.split("-");
  const [before, after] = f.buffers.value.split("/").map(Number);
  const body = {
    name: f.name.value.trim(),
    duration_minutes: Number(f.duration_minutes.value),
    calendar_id: f.calendar_id.value,
    buffer_before_minutes: before || 0,
    buffer_after_minutes: after || 0,
    min_notice_minutes: Number(f.min_notice_minutes.value || 0),
    days_ahead: Number(f.days_ahead.value || 30),
    hours: { timezone: f.timezone.value.trim(), weekly: Object.fromEntries(WEEKDAYS.map((d) => [d, [[open, close]]])) },
  };
  try {
    const bt = await post("/api/booking-types", body);
    $("booking-types-list").append(bookingTypeCard(bt));
    toast("Booking type added.", "ok", 3000);
  } catch (err) {
    report(err, "Could not add the booking type");
  }
});
