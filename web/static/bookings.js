// The contact panel's bookings: the contact's appointments (move or cancel one), and "Book" for
// the open conversation: pick a booking type, then one of its next free slots.
"use strict";

import { clear, del, el, formatTime, get, patch, post, report, toast } from "./api.js";

const list = document.getElementById("contact-bookings");
const form = document.getElementById("book-form");
let current = { contactId: null, conversationId: null };
let token = 0;

function bookingItem(b) {
  const item = el("li", {}, el("strong", {}, formatTime(b.starts_at)), " ", b.summary || "",
    el("span", { class: "muted" }, " · " + b.status));
  if (b.status === "confirmed") {
    const cancel = el("button", { type: "button", class: "ghost small" }, "Cancel");
    cancel.addEventListener("click", async () => {
      if (!window.confirm("Cancel this booking? The calendar event is deleted.")) return;
      try {
        await del(`/api/bookings/${encodeURIComponent(b.id)}`);
        toast("Booking cancelled.", "ok", 3000);
        await refresh();
      } catch (err) {
        report(err, "Could not cancel the booking");
      }
    });
    // Move it to the time chosen in the Book form below (the contact asked to reschedule).
    const move = el("button", { type: "button", class: "ghost small" }, "Move to chosen time");
    move.addEventListener("click", async () => {
      const start = form.elements.start.value;
      if (!start) {
        toast("Choose a time in the Book form first.", "info", 4000);
        return;
      }
      try {
        await patch(`/api/bookings/${encodeURIComponent(b.id)}`, { start });
        toast("Booking moved; the calendar event follows.", "ok", 3000);
        await refresh();
        await loadSlots();
      } catch (err) {
        report(err, err.code === "slot_taken" ? "That time was just taken" : "Could not move the booking");
      }
    });
    item.append(" ", move, " ", cancel);
  }
  return item;
}

async function refresh() {
  const mine = ++token;
  const { contactId } = current;
  try {
    const page = await get(`/api/contacts/${encodeURIComponent(contactId)}/bookings`);
    if (mine !== token) return;
    clear(list);
    for (const b of page.items) list.append(bookingItem(b));
    if (!page.items.length) list.append(el("li", { class: "muted" }, "None"));
  } catch (err) {
    if (mine === token) report(err, "Could not load the bookings");
  }
}

async function loadSlots() {
  const select = form.elements.start;
  clear(select);
  const typeId = form.elements.booking_type_id.value;
  if (!typeId) return;
  const from = new Date();
  const to = new Date(from.getTime() + 14 * 24 * 3600 * 1000);
  try {
    const query = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
    const page = await get(`/api/booking-types/${encodeURIComponent(typeId)}/slots?${query}`);
    for (const slot of page.items.slice(0, 50)) select.append(el("option", { value: slot.start }, formatTime(slot.start)));
    if (!page.items.length) select.append(el("option", { value: "" }, "No free time in the next two weeks"));
  } catch (err) {
    select.append(el("option", { value: "" }, "The calendar cannot be read now"));
    report(err, "Could not load free slots");
  }
}

/** Show the contact's bookings; offer "Book" when a conversation is open. */
export async function showBookings(contactId, conversationId) {
  current = { contactId, conversationId };
  form.hidden = true;
  await refresh();
  if (!conversationId) return;
  try {
    const types = (await get("/api/booking-types")).items;
    const select = form.elements.booking_type_id;
    clear(select);
    for (const bt of types) select.append(el("option", { value: bt.id }, `${bt.name} (${bt.duration_minutes} min)`));
    form.hidden = !types.length;
    if (types.length) await loadSlots();
  } catch (err) {
    report(err, "Could not load the booking types");
  }
}

form.elements.booking_type_id.addEventListener("change", loadSlots);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const start = form.elements.start.value;
  if (!start || !current.conversationId) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await post(`/api/conversations/${encodeURIComponent(current.conversationId)}/bookings`, {
      booking_type_id: form.elements.booking_type_id.value,
      start,
    });
    toast("Booked; the event is in the calendar.", "ok", 3000);
    await refresh();
    await loadSlots();
  } catch (err) {
    report(err, err.code === "slot_taken" ? "That time was just taken" : "Could not book");
    if (err.code === "slot_taken") await loadSlots();
  } finally {
    button.disabled = false;
  }
});
