// Notifications for the inbox: the unread count in the tab title, browser notifications
// and a short tone, for what the operator chose (GET/PUT /api/me/notifications): new
// conversations, messages in conversations assigned to them, and @mentions in notes.
//
// The browser's permission is asked once, and only from a click ("Enable notifications" in
// the top bar): browsers ignore, and some penalise, a permission prompt nobody asked for.
// A notification shows only while the operator is not looking at that conversation (the tab
// hidden, or another conversation open); clicking it focuses the tab and opens it.
"use strict";

import { api, el, get, report, toast } from "./api.js";

const ASKED_KEY = "inviaro:notifications-asked";
const DEFAULTS = { new_conversations: true, assigned: true, mentions: true, sound: true };
const KINDS = [
  ["new_conversations", "New conversations"],
  ["assigned", "Messages in conversations assigned to me"],
  ["mentions", "Mentions of me in notes"],
  ["sound", "Play a sound"],
];

let prefs = { ...DEFAULTS };
let hooks = null; // {operatorId, conversation(id), isOpen(id), open(id)}
const notified = new Set(); // message ids already notified (replays come again)
const baseTitle = document.title;
let audio = null;

/** Wire notifications to the inbox's socket. */
export function setupNotifications(socket, inboxHooks) {
  hooks = inboxHooks;
  loadPrefs();
  wirePermissionButton();
  wirePrefsForm();
  socket.on("message", (frame) => onMessage(frame.message));
  socket.on("mention", (frame) => onMention(frame.message));
}

/** The inbox's unread total changed: it shows in the tab title, "(3) Inbox · Inviaro". */
export function showUnread(total) {
  const title = total > 0 ? `(${total > 99 ? "99+" : total}) ${baseTitle}` : baseTitle;
  if (document.title !== title) document.title = title;
}

async function loadPrefs() {
  try {
    prefs = { ...DEFAULTS, ...(await get("/api/me/notifications")) };
  } catch (err) {
    report(err, "Could not load your notification settings");
  }
  fillForm();
}

function permission() {
  return "Notification" in window ? Notification.permission : "unsupported";
}

function wirePermissionButton() {
  const button = document.getElementById("enable-notifications");
  if (!button) return;
  let asked = false;
  try { asked = localStorage.getItem(ASKED_KEY) === "1"; } catch (e) { /* storage blocked */ }
  button.hidden = permission() !== "default" || asked;
  button.addEventListener("click", async () => {
    try { localStorage.setItem(ASKED_KEY, "1"); } catch (e) { /* storage blocked */ }
    button.hidden = true;
    primeSound(); // a user gesture: browsers allow audio from here on
    const answer = await Notification.requestPermission();
    if (answer !== "granted") toast("Notifications stay off: the browser was not allowed to show them.", "info");
  });
}

function wirePrefsForm() {
  const form = document.getElementById("notify-form");
  const dialog = document.getElementById("notify-dialog");
  const opener = document.getElementById("notify-settings");
  if (!form || !dialog || !opener) return;
  const list = form.querySelector(".notify-kinds");
  list.replaceChildren(...KINDS.map(([key, label]) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: key }), " ", label)));
  opener.addEventListener("click", () => { fillForm(); dialog.showModal(); });
  form.querySelector(".cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [key] of KINDS) body[key] = form.elements[key].checked;
    try {
      prefs = { ...DEFAULTS, ...(await api("PUT", "/api/me/notifications", body)) };
      dialog.close();
      toast("Notification settings saved.", "info", 3000);
    } catch (err) {
      report(err, "Could not save your notification settings");
    }
  });
}

function fillForm() {
  const form = document.getElementById("notify-form");
  if (!form) return;
  for (const [key] of KINDS) if (form.elements[key]) form.elements[key].checked = Boolean(prefs[key]);
}

/** Why this message is worth a notification, or null. */
function reasonFor(msg, conv) {
  if (msg.direction !== "in" || msg.private) return null;
  if (prefs.new_conversations && msg.seq === 1) return "New conversation";
  if (prefs.assigned && conv && conv.assignee_id === hooks.operatorId) return "New message";
  return null;
}

function onMessage(msg) {
  if (!msg || !msg.id || notified.has(msg.id)) return;
  const conv = hooks.conversation(msg.conversation_id);
  const reason = reasonFor(msg, conv);
  if (!reason) return;
  const who = (msg.author && msg.author.name) || (conv && conv.contact && conv.contact.name) || "A visitor";
  announce(msg, `${reason} from ${who}`, msg.text);
}

function onMention(msg) {
  if (!msg || !msg.id || notified.has(msg.id) || !prefs.mentions) return;
  const who = (msg.author && msg.author.name) || "An operator";
  announce(msg, `${who} mentioned you`, msg.text);
}

function announce(msg, title, text) {
  notified.add(msg.id);
  if (notified.size > 2000) notified.clear();
  const looking = document.visibilityState === "visible" && hooks.isOpen(msg.conversation_id);
  if (looking) return;
  if (prefs.sound) beep();
  window.dispatchEvent(new CustomEvent("inviaro:notified", { detail: { title, id: msg.id } }));
  if (permission() !== "granted") return;
  const note = new Notification(title, {
    body: String(text || "").slice(0, 140),
    tag: msg.conversation_id, // one per conversation: a newer one replaces it
    icon: "/static/icon.svg",
  });
  note.addEventListener("click", () => {
    window.focus();
    hooks.open(msg.conversation_id);
    note.close();
  });
}

function primeSound() {
  if (audio || !(window.AudioContext || window.webkitAudioContext)) return;
  try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { audio = null; }
}

/** A short two-note tone; silent until a click allowed audio on this page. */
function beep() {
  primeSound();
  if (!audio || audio.state === "suspended") return;
  const now = audio.currentTime;
  [[880, 0], [1320, 0.12]].forEach(([freq, at]) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, now + at);
    gain.gain.exponentialRampToValueAtTime(0.15, now + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.2);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + at);
    osc.stop(now + at + 0.22);
  });
}

// Any click on the page lets the tone play later (autoplay rules want a gesture first).
document.addEventListener("click", primeSound, { once: true });
