// The live inbox: conversation list, thread, reply box, typing and presence, on one socket.
//
// Everything customers or operators typed reaches the page through textContent (el()).
// Messages are merged by id; each loaded thread remembers its last contiguous seq, resumes
// from it after a reconnect, and resumes again whenever a seq gap shows up.
"use strict";

import {
  channelIcon, clear, el, formatBytes, formatTime, get, kindName, me, onSessionLost,
  patch, post, report, toast, wireTopbar,
} from "./api.js";
import { LiveSocket, operatorSocketUrl } from "./socket.js";
import { hideContact, setContactHooks, showContact } from "./contact.js";
import { attachCanned } from "./canned.js";
import { aiConversationOpened, setupAi } from "./ai_assist.js";
import { setupNotifications, showUnread } from "./notify.js";
import { setupAttachments } from "./attach.js";
import { filterParams, passes, setupFilters } from "./inbox_filters.js";

const PAGE = 50;
const MAX_TEXT = 10000;
const ACK_TIMEOUT_MS = 15000;
const TYPING_SEND_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOW_MS = 8000;
// queued, sending and failed move among each other (a retry goes back to queued); sent,
// delivered and read only ever move forward, whatever order the receipts arrive in.
const STATUS_RANK = { queued: 1, sending: 1, failed: 1, sent: 2, delivered: 3, read: 4 };

const $ = (id) => document.getElementById(id);
const dom = {
  list: $("conversation-list"), listEmpty: $("list-empty"), searchEmpty: $("search-empty"), listMore: $("list-more"),
  status: $("filter-status"), assignee: $("filter-assignee"), search: $("search"),
  threadEmpty: $("thread-empty"), thread: $("thread"), title: $("thread-title"), sub: $("thread-sub"),
  channel: $("thread-channel"), threadStatus: $("thread-status"), threadAssignee: $("thread-assignee"),
  assignMe: $("assign-me"), resolve: $("resolve"), snooze: $("thread-snooze"), tags: $("thread-tags"), tagForm: $("tag-form"),
  tagInput: $("tag-input"), scroller: $("messages"), messages: $("message-list"),
  history: $("history-status"), typing: $("typing"), replyForm: $("reply-form"), reply: $("reply"),
  count: $("reply-count"), replyPrivate: $("reply-private"), send: $("send"), cannedMenu: $("canned-menu"), banner: $("offline-banner"), retryIn: $("retry-in"), presence: $("presence"),
  layout: document.querySelector(".inbox-layout"), back: $("thread-back"),
  myStatus: $("my-status"), templateNotice: $("template-notice"), templateWhy: $("template-why"),
  templateForm: $("template-form"), templateDismiss: $("template-dismiss"),
};

const state = {
  convs: new Map(),          // id -> conversation (wire form)
  nextCursor: null,
  operators: new Map(),      // id -> operator
  online: new Set(),         // operator ids
  threads: new Map(),        // conversation id -> Thread
  current: null,             // the open conversation id
  fetching: new Map(),       // conversation id -> pending GET
  refs: new Map(),           // send ref -> local message
  typing: new Map(),         // conversation id -> {name, until}
  results: null,             // while searching: the matching ids, best match first
};

let refCounter = 0;
const socket = new LiveSocket(operatorSocketUrl());
window.__inviaroSocket = socket; // a handle for tests and debugging: drop(), suspend(), resume()
setupNotifications(socket, {
  operatorId: me.id,
  conversation: (id) => state.convs.get(id),
  isOpen: (id) => state.current === id,
  open: (id) => openConversation(id),
});

// ---------------------------------------------------------------- conversations list

function matchesFilter(conv) {
  if (state.results && !state.results.includes(conv.id)) return false;
  const status = dom.status.value;
  const who = dom.assignee.value;
  if (status && conv.status !== status) return false;
  if (!passes(conv)) return false;
  if (who === "me") return conv.assignee_id === me.id;
  if (who === "none") return !conv.assignee_id;
  if (who) return conv.assignee_id === who;
  return true;
}

function sortedConvs() {
  if (state.results) return state.results.map((id) => state.convs.get(id)).filter(Boolean);
  return [...state.convs.values()].sort((a, b) =>
    (b.updated_at || "").localeCompare(a.updated_at || "") || (b.id < a.id ? -1 : 1));
}

function contactName(conv) {
  return (conv.contact && conv.contact.name) || "Visitor " + String(conv.contact?.id || conv.id).slice(-4);
}

function previewText(msg) {
  if (!msg) return "No messages yet";
  let text = msg.text || "";
  if (!text && msg.attachments && msg.attachments.length) text = "📎 " + (msg.attachments[0].name || "Attachment");
  const prefix = msg.private ? "Note: " : msg.direction === "out" ? (msg.author?.kind === "bot" ? "Bot: " : "You: ") : "";
  return prefix + text.replace(/\s+/g, " ").slice(0, 140);
}

/** The last reply's trouble, in the list: a send that failed or is being retried. */
function sendPill(msg) {
  if (!msg || msg.direction !== "out" || msg.private) return null;
  if (msg.status === "failed") {
    return el("span", { class: "pill send-failed", title: msg.error?.detail || "" }, "Failed");
  }
  if (msg.status === "queued" && msg.error) {
    return el("span", { class: "pill send-retrying", title: msg.error.detail || "" }, "Retrying");
  }
  return null;
}

function renderList() {
  const items = sortedConvs().filter(matchesFilter);
  const nodes = items.map(conversationItem);
  dom.list.replaceChildren(...nodes);
  dom.listEmpty.hidden = items.length > 0 || Boolean(state.results);
  dom.searchEmpty.hidden = items.length > 0 || !state.results;
  dom.listMore.hidden = !state.nextCursor;
  let unread = 0;
  for (const conv of state.convs.values()) unread += conv.unread || 0;
  showUnread(unread);
}

function conversationItem(conv) {
  const op = conv.assignee_id ? state.operators.get(conv.assignee_id) : null;
  const typing = state.typing.get(conv.id);
  const button = el("button", {
    type: "button", class: "conv" + (conv.id === state.current ? " active" : "") + (conv.unread ? " has-unread" : ""),
    dataset: { id: conv.id }, "aria-current": conv.id === state.current ? "true" : undefined,
  },
    channelIcon(conv.channel?.kind),
    el("span", { class: "conv-main" },
      el("span", { class: "conv-top" },
        el("strong", { class: "conv-name", dir: "auto" }, contactName(conv)),
        el("time", { class: "conv-time", datetime: conv.updated_at }, formatTime(conv.last_message?.created_at || conv.updated_at))),
      el("span", { class: "conv-preview" + (typing && typing.until > Date.now() ? " is-typing" : ""), dir: "auto" },
        typing && typing.until > Date.now() ? typing.name + " is typing…" : previewText(conv.last_message)),
      el("span", { class: "conv-meta" },
        el("span", { class: "pill status-" + conv.status }, conv.status),
        conv.snoozed_until ? el("span", { class: "pill snoozed", title: "Reopens by itself" }, "Snoozed until " + formatTime(conv.snoozed_until)) : null,
        sendPill(conv.last_message),
        op ? el("span", { class: "pill assignee" }, op.id === me.id ? "Me" : op.name) : null,
        ...(conv.tags || []).slice(0, 3).map((t) => el("span", { class: "pill tag", dir: "auto" }, t)))),
    conv.unread ? el("span", { class: "unread", "aria-label": conv.unread + " unread" }, String(conv.unread)) : null,
  );
  button.addEventListener("click", () => openConversation(conv.id));
  return el("li", {}, button);
}

async function loadList({ more = false } = {}) {
  const params = new URLSearchParams({ limit: String(PAGE) });
  if (dom.status.value) params.set("status", dom.status.value);
  if (dom.assignee.value) params.set("assignee", dom.assignee.value);
  filterParams(params);
  if (more && state.nextCursor) params.set("cursor", state.nextCursor);
  const query = dom.search.value.trim();
  if (query) params.set("q", query);
  try {
    const page = await get("/api/conversations?" + params);
    if (query !== dom.search.value.trim()) return; // a newer search is on its way
    state.results = query ? [...(more && state.results ? state.results : []), ...page.items.map((c) => c.id)] : null;
    if (!more) {
      // Keep conversations with a loaded thread; replace the rest with the fresh page.
      for (const id of [...state.convs.keys()]) if (!state.threads.has(id)) state.convs.delete(id);
    }
    for (const conv of page.items) upsertConversation(conv, { render: false });
    state.nextCursor = page.next_cursor || null;
    renderList();
  } catch (err) {
    report(err, "Could not load conversations");
  }
}

function upsertConversation(conv, { render = true } = {}) {
  const old = state.convs.get(conv.id);
  if (old && old.last_message && conv.last_message && old.last_message.seq > conv.last_message.seq) {
    conv = { ...conv, last_message: old.last_message, last_seq: old.last_seq };
  }
  state.convs.set(conv.id, conv);
  if (conv.id === state.current) {
    if (state.current === conv.id && document.visibilityState === "visible" && conv.unread) markRead(conv.id);
    renderThreadHead();
  }
  if (render) renderList();
}

function fetchConversation(id) {
  if (state.fetching.has(id)) return state.fetching.get(id);
  const pending = get(`/api/conversations/${encodeURIComponent(id)}`)
    .then((conv) => { upsertConversation(conv); return conv; })
    .catch((err) => { if (err.status !== 404) report(err, "Could not load a conversation"); return null; })
    .finally(() => state.fetching.delete(id));
  state.fetching.set(id, pending);
  return pending;
}

function conversationGotMessage(msg) {
  const conv = state.convs.get(msg.conversation_id);
  if (!conv) {
    fetchConversation(msg.conversation_id);
    return;
  }
  if (!conv.last_message || msg.seq >= conv.last_message.seq) {
    const isNew = msg.seq > (conv.last_seq || 0) && !isKnown(msg);
    conv.last_message = msg;
    conv.last_seq = Math.max(conv.last_seq || 0, msg.seq);
    if ((msg.created_at || "") > (conv.updated_at || "")) conv.updated_at = msg.created_at;
    const seenHere = conv.id === state.current && document.visibilityState === "visible";
    if (msg.direction === "in" && !seenHere && isNew) conv.unread = (conv.unread || 0) + 1;
    if (msg.direction === "out") conv.unread = 0;
    if (seenHere && msg.direction === "in") markRead(conv.id);
  }
  renderList();
}

function isKnown(msg) {
  const thread = state.threads.get(msg.conversation_id);
  return Boolean(thread && thread.messages.has(msg.id));
}

const readTimers = new Map();
function markRead(id) {
  clearTimeout(readTimers.get(id));
  readTimers.set(id, setTimeout(() => {
    readTimers.delete(id);
    const conv = state.convs.get(id);
    if (!conv) return;
    const seq = Math.max(conv.last_seq || 0, state.threads.get(id)?.lastSeq || 0);
    if (!seq) return;
    conv.unread = 0;
    renderList();
    post(`/api/conversations/${encodeURIComponent(id)}/read`, { seq }).catch((err) => {
      if (err.status !== 404 && err.status !== 0) report(err, "Could not mark as read");
    });
  }, 300));
}

// ---------------------------------------------------------------- threads

class Thread {
  constructor(id) {
    this.id = id;
    this.messages = new Map();   // message id -> message
    this.seqs = new Set();
    this.pending = new Map();    // client_id -> local message not acknowledged yet
    this.lastSeq = 0;            // every seq up to this one is here
    this.firstSeq = null;
    this.hasOlder = true;
    this.loaded = false;
    this.loadingOlder = false;
    this.resuming = false;
    this.resumeAgain = false;
    this.nodes = new Map();      // key -> <li>
  }

  /** Merge one stored message; returns true when the view must change. */
  add(msg) {
    if (!msg || msg.conversation_id !== this.id || typeof msg.seq !== "number") return false;
    if (msg.client_id && this.pending.has(msg.client_id)) {
      const local = this.pending.get(msg.client_id);
      this.pending.delete(msg.client_id);
      clearTimeout(local.timer);
      state.refs.delete(local.ref);
      const node = this.nodes.get(local.key);
      if (node) { this.nodes.delete(local.key); this.nodes.set(msg.id, node); }
    }
    const old = this.messages.get(msg.id);
    if (old) {
      applyDelivery(old, msg);
      // A channel's file copied into the hub: the stored copy replaces the provider's link.
      const files = msg.attachments || [];
      if (JSON.stringify(files) !== JSON.stringify(old.attachments || [])) {
        old.attachments = files;
        this.nodes.get(msg.id)?.querySelector(".attachments")?.replaceChildren(...files.map(attachmentNode));
      }
      return true;
    }
    this.messages.set(msg.id, { ...msg });
    this.seqs.add(msg.seq);
    if (this.firstSeq === null || msg.seq < this.firstSeq) this.firstSeq = msg.seq;
    if (this.loaded) {
      this.advance();
      if (msg.seq > this.lastSeq + 1 || [...this.seqs].some((s) => s > this.lastSeq)) this.resume();
    }
    return true;
  }

  advance() {
    while (this.seqs.has(this.lastSeq + 1)) this.lastSeq += 1;
  }

  /** Ask the hub for everything after lastSeq (one request in flight per thread). */
  resume() {
    if (!this.loaded) return;
    if (this.resuming) { this.resumeAgain = true; return; }
    if (socket.send({ type: "resume", conversation_id: this.id, after_seq: this.lastSeq })) {
      this.resuming = true;
      this.resumeAgain = false;
    }
  }

  resumed() {
    this.resuming = false;
    this.advance();
    if (this.resumeAgain || [...this.seqs].some((s) => s > this.lastSeq + 1)) this.resume();
  }

  ordered() {
    const stored = [...this.messages.values()].sort((a, b) => a.seq - b.seq);
    const local = [...this.pending.values()].sort((a, b) => a.at - b.at);
    return stored.concat(local);
  }
}

function threadFor(id) {
  let thread = state.threads.get(id);
  if (!thread) {
    thread = new Thread(id);
    state.threads.set(id, thread);
  }
  return thread;
}

async function openConversation(id) {
  if (state.current === id) return;
  hideTemplateNotice();
  saveDraft();
  sendTyping(false);
  state.current = id;
  dom.layout.classList.add("show-thread"); // at phone width, the thread in place of the list
  sessionStorage.setItem("inviaro.current", id);
  if (location.hash !== "#" + id) history.replaceState(null, "", "#" + id);
  dom.threadEmpty.hidden = true;
  dom.thread.hidden = false;
  clear(dom.messages);
  dom.history.textContent = "";
  let conv = state.convs.get(id);
  if (!conv) conv = await fetchConversation(id);
  if (!conv || state.current !== id) {
    if (!conv) closeThread();
    return;
  }
  const thread = threadFor(id);
  thread.nodes.clear();
  renderThreadHead();
  renderTyping();
  dom.reply.value = sessionStorage.getItem("inviaro.draft." + id) || "";
  files.clear(); // uploads belong to the conversation they were made in
  updateCount();
  renderList();
  showContact(conv.contact.id, conv.id);
  aiConversationOpened(id);
  if (!thread.loaded) await loadNewest(thread);
  if (state.current !== id) return;
  renderMessages({ toBottom: true });
  markRead(id);
  dom.reply.focus();
}

function closeThread() {
  state.current = null;
  dom.layout.classList.remove("show-thread");
  sessionStorage.removeItem("inviaro.current");
  history.replaceState(null, "", location.pathname + location.search);
  dom.thread.hidden = true;
  dom.threadEmpty.hidden = false;
  hideContact();
  renderList();
}

async function loadNewest(thread) {
  dom.history.textContent = "Loading…";
  try {
    const page = await get(`/api/conversations/${encodeURIComponent(thread.id)}/messages?before_seq=2147483647&limit=${PAGE}`);
    for (const msg of page.items) thread.add(msg);
    const seqs = page.items.map((m) => m.seq);
    thread.lastSeq = seqs.length ? Math.max(...seqs) : 0;
    thread.firstSeq = seqs.length ? Math.min(...seqs) : null;
    thread.hasOlder = seqs.length === PAGE && thread.firstSeq > 1;
    thread.loaded = true;
    thread.advance();
    thread.resume(); // anything that arrived between this page and the socket
  } catch (err) {
    if (err.status === 404) {
      dropConversation(thread.id);
      toast("That conversation no longer exists.", "error");
      return;
    }
    report(err, "Could not load messages");
  }
  renderHistoryStatus(thread);
}

async function loadOlder(thread) {
  if (!thread.loaded || !thread.hasOlder || thread.loadingOlder || thread.firstSeq === null) return;
  thread.loadingOlder = true;
  dom.history.textContent = "Loading older messages…";
  const fromBottom = dom.scroller.scrollHeight - dom.scroller.scrollTop;
  try {
    const page = await get(`/api/conversations/${encodeURIComponent(thread.id)}/messages?before_seq=${thread.firstSeq}&limit=${PAGE}`);
    for (const msg of page.items) thread.add(msg);
    thread.hasOlder = page.items.length === PAGE && thread.firstSeq > 1;
    if (state.current === thread.id) {
      renderMessages();
      dom.scroller.scrollTop = dom.scroller.scrollHeight - fromBottom;
    }
  } catch (err) {
    report(err, "Could not load older messages");
  } finally {
    thread.loadingOlder = false;
    renderHistoryStatus(thread);
  }
}

function renderHistoryStatus(thread) {
  if (state.current !== thread.id) return;
  dom.history.textContent = thread.hasOlder ? "Scroll up for older messages" :
    thread.messages.size ? "Beginning of the conversation" : "No messages yet";
}

function renderThreadHead() {
  const conv = state.convs.get(state.current);
  if (!conv) return;
  dom.title.textContent = contactName(conv);
  dom.sub.textContent = `${conv.channel?.name || kindName(conv.channel?.kind)} · ${kindName(conv.channel?.kind)} · started ${formatTime(conv.created_at)}`;
  channelIcon(conv.channel?.kind, dom.channel);
  dom.threadStatus.value = conv.status;
  fillAssignees(dom.threadAssignee, conv.assignee_id);
  dom.assignMe.hidden = conv.assignee_id === me.id;
  dom.resolve.textContent = conv.status === "resolved" ? "Reopen" : "Resolve";
  dom.resolve.className = conv.status === "resolved" ? "ghost" : "primary";
  dom.snooze.value = "";
  dom.snooze.querySelector('option[value="off"]').hidden = !conv.snoozed_until;
  dom.snooze.title = conv.snoozed_until ? "Snoozed until " + formatTime(conv.snoozed_until) : "";
  dom.tags.replaceChildren(...(conv.tags || []).map((tag) => {
    const remove = el("button", { type: "button", class: "tag-remove", "aria-label": "Remove tag " + tag }, "×");
    remove.addEventListener("click", () => changeConversation({ tags: (conv.tags || []).filter((t) => t !== tag) }));
    return el("li", { class: "pill tag" }, tag, remove);
  }));
}

function fillAssignees(select, current) {
  const options = [el("option", { value: "" }, "Unassigned")];
  const ops = [...state.operators.values()].filter((o) => !o.disabled).sort((a, b) => a.name.localeCompare(b.name));
  for (const op of ops) {
    const label = (op.id === me.id ? op.name + " (me)" : op.name) + (state.online.has(op.id) ? " ●" : "");
    options.push(el("option", { value: op.id }, label));
  }
  if (current && !state.operators.has(current)) options.push(el("option", { value: current }, "Another operator"));
  select.replaceChildren(...options);
  select.value = current || "";
}

function messageKey(msg) {
  return msg.local ? msg.key : msg.id;
}

/** Take a status (and its error, attempts, next attempt) from the server: a message frame
 * or a receipt. Sent, delivered and read never move back; a provider's "failed" always wins. */
function applyDelivery(msg, update) {
  const rank = STATUS_RANK[update.status] ?? 0;
  if (update.status !== "failed" && rank < (STATUS_RANK[msg.status] ?? 0)) return;
  msg.status = update.status;
  for (const key of ["error", "attempts", "next_attempt_at"]) {
    if (key in update) msg[key] = update[key];
  }
  if (update.status !== "queued" && update.status !== "failed") msg.error = null;
}

function statusLabel(msg) {
  switch (msg.status) {
    case "sending": return msg.local && !socket.online ? "Waiting for connection…" : "Sending…";
    case "queued": return msg.error ? "Retrying" : "Queued";
    case "sent": return "Sent";
    case "delivered": return "Delivered";
    case "read": return "Read";
    case "failed": return "Failed";
    default: return "";
  }
}

/** Why a send failed, or why it is waiting for another attempt, in words. */
function deliveryNote(msg) {
  if (!msg.error || !msg.error.detail) return "";
  if (msg.status === "failed") return msg.error.detail;
  if (msg.status === "queued") {
    const when = msg.next_attempt_at ? " Next attempt " + formatTime(msg.next_attempt_at) + "." : "";
    return `Attempt ${msg.attempts || 1} failed: ${msg.error.detail}${when}`;
  }
  return "";
}

/** The operator's Retry on a send the server gave up on: queued again for the worker. */
async function retryStored(msg) {
  try {
    const url = `/api/conversations/${encodeURIComponent(msg.conversation_id)}/messages/${encodeURIComponent(msg.id)}/retry`;
    const fresh = await post(url, {});
    const thread = state.threads.get(msg.conversation_id);
    const held = thread && thread.messages.get(msg.id);
    if (held) applyDelivery(held, fresh);
    if (state.current === msg.conversation_id) renderMessages();
    noteListStatus(msg.conversation_id, fresh.id, fresh);
  } catch (err) {
    report(err, "Could not send it again");
  }
}

function messageNode(msg) {
  const author = msg.author || {};
  if (author.kind === "system") return systemLineNode(msg);
  const text = el("p", { class: "text", dir: "auto" }, msg.text || "");
  const attachments = el("div", { class: "attachments" });
  for (const att of msg.attachments || []) attachments.append(attachmentNode(att));
  const offered = optionsNode(msg);
  const who = author.kind === "operator" ? (author.id === me.id ? "You" : author.name || "Operator")
    : author.kind === "bot" ? "Bot" : author.kind === "system" ? "System" : author.name || "Customer";
  const picture = author.kind === "operator" ? state.operators.get(author.id)?.avatar_url : null;
  const foot = el("div", { class: "foot" },
    picture ? el("img", { class: "author-avatar", src: picture, alt: "" }) : null,
    el("span", { class: "author", dir: "auto" }, who),
    el("time", { datetime: msg.created_at || "" }, formatTime(msg.created_at)),
    el("span", { class: "status" }));
  const note = msg.private ? el("span", { class: "note-label" }, "Private note") : null;
  const reason = el("p", { class: "delivery-note", role: "status" });
  return el("li", { class: `msg ${msg.direction === "out" ? "out" : "in"} author-${author.kind || "contact"}${msg.private ? " note" : ""}` },
    note, el("div", { class: "bubble", dir: "auto" }, text, attachments, offered), foot, reason);
}

/** A flow's system line (what the bot did at a step): one compact, centred line. */
function systemLineNode(msg) {
  return el("li", { class: "msg system-line", role: "note" },
    el("p", { class: "text", dir: "auto" }, msg.text || ""),
    el("div", { class: "foot" },
      el("time", { datetime: msg.created_at || "" }, formatTime(msg.created_at)),
      el("span", { class: "status", hidden: true })),
    el("p", { class: "delivery-note", hidden: true }));
}

/** The options a bot message offered the contact, as the operator sees them (not tappable). */
function optionsNode(msg) {
  const options = Array.isArray(msg.options) ? msg.options : [];
  if (!options.length) return null;
  return el("ul", { class: "offered", "aria-label": "Options offered" },
    options.map((o) => el("li", {}, String(o.label ?? ""))));
}

function attachmentNode(att) {
  const url = safeUrl(att.url);
  const label = `${att.name || "attachment"}${att.size ? " (" + formatBytes(att.size) + ")" : ""}`;
  if (!url) return el("span", { class: "attachment" }, label);
  const link = el("a", { href: url.href, target: "_blank", rel: "noopener noreferrer", class: "attachment", title: label });
  const mime = String(att.mime || "");
  // A file the hub keeps has a thumbnail for images; provider media shows as it is.
  const preview = att.thumbnail_url ? safeUrl(att.thumbnail_url) : att.media_id ? null : url;
  if (mime.startsWith("image/") && preview && preview.origin === location.origin) {
    link.append(el("img", { src: preview.href, alt: att.name || "image", loading: "lazy", class: "preview" }));
  } else {
    link.classList.add("file-chip");
    link.append(el("span", { class: "chip-name", dir: "auto" }, att.name || "attachment"),
      att.size ? el("small", {}, formatBytes(att.size)) : null);
  }
  return link;
}

function safeUrl(raw) {
  try {
    const url = new URL(String(raw || ""), location.origin);
    return url.protocol === "https:" || url.protocol === "http:" ? url : null;
  } catch (err) {
    return null;
  }
}

function updateNode(node, msg) {
  node.dataset.id = msg.local ? "" : msg.id;
  node.dataset.seq = msg.seq ? String(msg.seq) : "";
  node.dataset.clientId = msg.client_id || "";
  const status = node.querySelector(".status");
  if (msg.direction === "out") {
    status.textContent = statusLabel(msg);
    status.className = "status st-" + msg.status;
    node.dataset.status = msg.status;
    const reason = node.querySelector(".delivery-note");
    reason.textContent = deliveryNote(msg);
    reason.hidden = !reason.textContent;
    let retry = node.querySelector(".retry");
    if (msg.status === "failed" && !msg.private) {
      if (!retry) {
        retry = el("button", { type: "button", class: "retry link" }, "Retry");
        node.querySelector(".foot").append(retry);
      }
      // A local message never reached the server: resend it; a stored one goes back to the worker.
      retry.onclick = () => (msg.local ? transmit(msg) : retryStored(msg));
    } else if (retry) {
      retry.remove();
    }
  }
}

function nearBottom() {
  const s = dom.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
}

function renderMessages({ toBottom = false } = {}) {
  const thread = state.threads.get(state.current);
  if (!thread) return;
  const stick = toBottom || nearBottom();
  const wanted = thread.ordered();
  const keep = new Set();
  let cursor = dom.messages.firstChild;
  for (const msg of wanted) {
    const key = messageKey(msg);
    keep.add(key);
    let node = thread.nodes.get(key);
    if (!node) {
      node = messageNode(msg);
      thread.nodes.set(key, node);
    }
    updateNode(node, msg);
    if (node !== cursor) dom.messages.insertBefore(node, cursor);
    else cursor = cursor.nextSibling;
  }
  for (const [key, node] of thread.nodes) {
    if (!keep.has(key)) { node.remove(); thread.nodes.delete(key); }
  }
  while (cursor) { const next = cursor.nextSibling; cursor.remove(); cursor = next; }
  renderHistoryStatus(thread);
  if (stick) dom.scroller.scrollTop = dom.scroller.scrollHeight;
}

function dropConversation(id) {
  state.convs.delete(id);
  state.threads.delete(id);
  sessionStorage.removeItem("inviaro.draft." + id);
  if (state.current === id) closeThread();
  else renderList();
}

// ---------------------------------------------------------------- changing a conversation

async function changeConversation(change) {
  const id = state.current;
  if (!id) return;
  try {
    const conv = await patch(`/api/conversations/${encodeURIComponent(id)}`, change);
    upsertConversation(conv);
  } catch (err) {
    if (err.status === 404) dropConversation(id);
    else if (err.status >= 500 && await changeLanded(id, change)) return;
    report(err, "Could not update the conversation");
    renderThreadHead();
  }
}

/** After a 5xx, the change may still have been stored: read it back before complaining. */
async function changeLanded(id, change) {
  try {
    const conv = await get(`/api/conversations/${encodeURIComponent(id)}`);
    upsertConversation(conv);
    return Object.entries(change).every(([key, value]) =>
      JSON.stringify(key === "tags" ? [...value].sort() : value) === JSON.stringify(conv[key] ?? null));
  } catch (err) {
    return false;
  }
}

dom.threadStatus.addEventListener("change", () => changeConversation({ status: dom.threadStatus.value }));
dom.threadAssignee.addEventListener("change", () => changeConversation({ assignee_id: dom.threadAssignee.value || null }));
dom.assignMe.addEventListener("click", () => changeConversation({ assignee_id: me.id }));

/** When a snooze choice ends, in the operator's own time zone. */
function snoozeEnd(choice) {
  const at = new Date();
  if (choice === "1h") return new Date(at.getTime() + 3600 * 1000);
  at.setHours(9, 0, 0, 0);
  if (choice === "tomorrow") at.setDate(at.getDate() + 1);
  if (choice === "week") at.setDate(at.getDate() + (((8 - at.getDay()) % 7) || 7));
  return at;
}
dom.snooze.addEventListener("change", () => {
  const choice = dom.snooze.value;
  if (!choice) return;
  changeConversation({ snoozed_until: choice === "off" ? null : snoozeEnd(choice).toISOString() });
});
dom.resolve.addEventListener("click", () => {
  const conv = state.convs.get(state.current);
  if (conv) changeConversation({ status: conv.status === "resolved" ? "open" : "resolved" });
});
dom.tagForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const conv = state.convs.get(state.current);
  const tag = dom.tagInput.value.trim();
  if (!conv || !tag) return;
  dom.tagInput.value = "";
  changeConversation({ tags: [...new Set([...(conv.tags || []), tag])] });
});

// ---------------------------------------------------------------- replying

const files = setupAttachments({
  form: dom.replyForm, textarea: dom.reply, button: $("attach"), input: $("reply-file"),
  list: $("reply-files"), conversation: () => state.current,
});

function saveDraft() {
  if (!state.current) return;
  const key = "inviaro.draft." + state.current;
  if (dom.reply.value) sessionStorage.setItem(key, dom.reply.value);
  else sessionStorage.removeItem(key);
}
onSessionLost(saveDraft);

function updateCount() {
  const n = dom.reply.value.length;
  dom.count.textContent = n > MAX_TEXT - 1000 ? `${n} / ${MAX_TEXT}` : "";
  dom.count.classList.toggle("error", n > MAX_TEXT);
}

function sendReply() {
  const id = state.current;
  const text = dom.reply.value.trim();
  const attachments = files.ready();
  if (!id || (!text && !attachments.length)) return;
  if (files.busy()) {
    toast("Wait a moment: a file is still uploading.", "info");
    return;
  }
  if (text.length > MAX_TEXT) {
    toast(`A reply can be at most ${MAX_TEXT} characters.`, "error");
    return;
  }
  const thread = threadFor(id);
  const clientId = crypto.randomUUID();
  const local = {
    local: true, key: "local:" + clientId, client_id: clientId, conversation_id: id, direction: "out",
    author: { kind: "operator", id: me.id, name: me.name }, text, attachments, status: "sending",
    created_at: new Date().toISOString(), at: Date.now(), ref: null, timer: null,
    private: dom.replyPrivate.checked,
  };
  thread.pending.set(clientId, local);
  files.clear();
  dom.reply.value = "";
  saveDraft();
  updateCount();
  sendTyping(false);
  transmit(local);
  renderMessages({ toBottom: true });
}

/** Send (or resend: the same client_id makes it idempotent) one local message. */
function transmit(local) {
  const thread = state.threads.get(local.conversation_id);
  if (!thread || !thread.pending.has(local.client_id)) return;
  local.status = "sending";
  clearTimeout(local.timer);
  if (local.ref) state.refs.delete(local.ref);
  local.ref = "r" + (++refCounter);
  state.refs.set(local.ref, local);
  const frame = { type: "send", ref: local.ref, conversation_id: local.conversation_id, text: local.text, client_id: local.client_id };
  if (local.private) frame.private = true;
  if (local.attachments.length) frame.attachments = local.attachments.map((a) => a.media_id);
  if (socket.send(frame)) {
    local.timer = setTimeout(() => failLocal(local, "No answer from the server."), ACK_TIMEOUT_MS);
  }
  // Not connected: it stays "sending" and goes out when the socket is back (see "open").
  if (state.current === local.conversation_id) renderMessages();
}

function failLocal(local, why) {
  clearTimeout(local.timer);
  local.status = "failed";
  if (local.ref) state.refs.delete(local.ref);
  if (state.current === local.conversation_id) renderMessages();
  if (why) toast("Your reply was not sent: " + why, "error");
}

function noteMode() {
  const note = dom.replyPrivate.checked;
  dom.replyForm.classList.toggle("is-note", note);
  dom.reply.placeholder = note
    ? "Write a private note… only operators see it; @name notifies a colleague"
    : "Write a reply… Enter sends, Shift+Enter adds a line, / inserts a canned response";
  dom.send.textContent = note ? "Add note" : "Send";
}
dom.replyPrivate.addEventListener("change", noteMode);

dom.replyForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sendReply();
});
dom.reply.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendReply();
  }
});

// ---------------------------------------------------------------- canned responses

/** The values a canned response may use, for the open conversation. */
async function cannedVariables() {
  const conv = state.convs.get(state.current) || {};
  const vars = {
    "contact.name": conv.contact?.name || "", "contact.email": "", "contact.phone": "",
    "operator.name": me.name || "",
  };
  if (conv.contact?.id) {
    try {
      const contact = await get(`/api/contacts/${encodeURIComponent(conv.contact.id)}`);
      vars["contact.name"] = contact.name || "";
      vars["contact.email"] = contact.email || "";
      vars["contact.phone"] = contact.phone || "";
    } catch (err) {
      // Erased or unreachable: what the list knew, and nothing for the rest.
    }
  }
  return vars;
}
attachCanned({
  textarea: dom.reply, menu: dom.cannedMenu, variables: cannedVariables,
  onInserted: () => { saveDraft(); updateCount(); },
});

// ---------------------------------------------------------------- WhatsApp templates
// Outside WhatsApp's 24-hour window a free-form reply is refused (window_closed); an
// approved template is the way forward. User data only ever goes through textContent.

const TEMPLATE_NAME = /^[a-z0-9_]{1,512}$/;
const TEMPLATE_LANGUAGE = /^[a-z]{2,3}(_[A-Z]{2})?$/;
let templateConv = null;

function showTemplateNotice(conversationId, detail) {
  templateConv = conversationId;
  dom.templateWhy.textContent = (detail || "The contact last wrote more than 24 hours ago.") +
    " Send an approved template:";
  dom.templateNotice.hidden = false;
  dom.templateForm.elements.namedItem("name").focus();
}

function hideTemplateNotice() {
  templateConv = null;
  dom.templateNotice.hidden = true;
}

async function sendTemplate() {
  const id = templateConv;
  if (!id) return;
  const fields = dom.templateForm.elements;
  const field = (key) => fields.namedItem(key);
  const name = field("name").value.trim();
  const language = field("language").value.trim();
  const parameters = field("parameters").value.split("\n").map((p) => p.trim()).filter(Boolean);
  if (!TEMPLATE_NAME.test(name)) { toast("The template name is lowercase letters, digits and _.", "error"); return; }
  if (!TEMPLATE_LANGUAGE.test(language)) { toast("The language is a code such as en_US or de.", "error"); return; }
  if (parameters.length > 10 || parameters.some((p) => p.length > 1024)) {
    toast("At most 10 parameters of up to 1024 characters each.", "error");
    return;
  }
  const button = $("template-send");
  button.disabled = true;
  try {
    const msg = await post(`/api/conversations/${encodeURIComponent(id)}/template`, {
      name, language, parameters, client_id: crypto.randomUUID(),
    });
    const thread = state.threads.get(msg.conversation_id);
    if (thread && thread.add(msg) && state.current === msg.conversation_id) renderMessages({ toBottom: true });
    conversationGotMessage(msg);
    field("parameters").value = "";
    hideTemplateNotice();
    toast("Template queued for sending.", "ok");
  } catch (err) {
    report(err, "The template was not sent");
  } finally {
    button.disabled = false;
  }
}

dom.templateForm.addEventListener("submit", (event) => {
  event.preventDefault();
  sendTemplate();
});
dom.templateDismiss.addEventListener("click", hideTemplateNotice);

let typingActive = false;
let typingSentAt = 0;
let typingIdle = null;
let typingConv = null;
function sendTyping(active) {
  clearTimeout(typingIdle);
  if (!active) {
    if (typingActive && typingConv) socket.send({ type: "typing", conversation_id: typingConv, active: false });
    typingActive = false;
    return;
  }
  const now = Date.now();
  if (!typingActive || typingConv !== state.current || now - typingSentAt > TYPING_SEND_EVERY_MS) {
    if (socket.send({ type: "typing", conversation_id: state.current, active: true })) {
      typingActive = true;
      typingConv = state.current;
      typingSentAt = now;
    }
  }
  typingIdle = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
}
dom.reply.addEventListener("input", () => {
  saveDraft();
  updateCount();
  if (dom.reply.value.trim()) sendTyping(true);
  else sendTyping(false);
});

// ---------------------------------------------------------------- typing and presence

function renderTyping() {
  const typing = state.typing.get(state.current);
  const active = typing && typing.until > Date.now();
  dom.typing.hidden = !active;
  dom.typing.textContent = active ? `${typing.name} is typing…` : "";
}

function onTyping(frame) {
  const author = frame.author || {};
  if (author.kind === "operator" && author.id === me.id) return;
  const name = author.kind === "operator" ? author.name || "An operator" : author.name || "The customer";
  if (frame.active) state.typing.set(frame.conversation_id, { name, until: Date.now() + TYPING_SHOW_MS });
  else state.typing.delete(frame.conversation_id);
  renderTyping();
  renderList();
  setTimeout(() => { renderTyping(); }, TYPING_SHOW_MS + 50);
}

function renderPresence() {
  const ops = [...state.operators.values()].filter((o) => !o.disabled)
    .sort((a, b) => Number(state.online.has(b.id)) - Number(state.online.has(a.id)) || a.name.localeCompare(b.name));
  dom.presence.replaceChildren(...ops.slice(0, 8).map((op) => {
    const online = state.online.has(op.id);
    const initials = op.name.split(/\s+/).map((p) => p[0] || "").join("").slice(0, 2).toUpperCase();
    return el("span", {
      class: "avatar" + (online ? " online" : ""), title: `${op.name} — ${online ? "online" : "offline"}`,
      dataset: { operatorId: op.id },
    }, op.avatar_url ? el("img", { src: op.avatar_url, alt: "" }) : initials);
  }));
  if (state.current) fillAssignees(dom.threadAssignee, state.convs.get(state.current)?.assignee_id);
}

async function loadOperators() {
  try {
    const page = await get("/api/operators");
    for (const op of page.items) state.operators.set(op.id, op);
    const options = [
      el("option", { value: "" }, "Anyone"), el("option", { value: "me" }, "Me"), el("option", { value: "none" }, "Unassigned"),
      ...page.items.filter((o) => o.id !== me.id && !o.disabled).map((o) => el("option", { value: o.id }, o.name)),
    ];
    const value = dom.assignee.value;
    dom.assignee.replaceChildren(...options);
    dom.assignee.value = value;
    renderPresence();
    renderList();
    if (state.current) renderMessages(); // authors' pictures
  } catch (err) {
    report(err, "Could not load operators");
  }
}

// ---------------------------------------------------------------- socket frames

socket.on("message", (frame) => {
  const msg = frame.message;
  if (!msg) return;
  conversationGotMessage(msg);
  const thread = state.threads.get(msg.conversation_id);
  if (thread && thread.add(msg) && state.current === msg.conversation_id) renderMessages();
  if (msg.direction === "in") {
    const typing = state.typing.get(msg.conversation_id);
    if (typing) { state.typing.delete(msg.conversation_id); renderTyping(); }
  }
});

socket.on("ack", (frame) => {
  const local = state.refs.get(frame.ref);
  const msg = frame.message;
  if (!msg) return;
  const thread = state.threads.get(msg.conversation_id);
  if (local) { state.refs.delete(frame.ref); clearTimeout(local.timer); }
  if (thread && thread.add(msg) && state.current === msg.conversation_id) renderMessages();
  conversationGotMessage(msg);
});

socket.on("conversation", (frame) => {
  const conv = frame.conversation;
  if (conv) upsertConversation(conv);
});

socket.on("receipt", (frame) => {
  const thread = state.threads.get(frame.conversation_id);
  const msg = thread && thread.messages.get(frame.message_id);
  if (msg) {
    applyDelivery(msg, frame);
    if (state.current === frame.conversation_id) renderMessages();
  }
  noteListStatus(frame.conversation_id, frame.message_id, frame);
});

/** A conversation's last message changed state: its list entry shows it (Failed, Retrying). */
function noteListStatus(conversationId, messageId, update) {
  const conv = state.convs.get(conversationId);
  if (conv && conv.last_message && conv.last_message.id === messageId) {
    applyDelivery(conv.last_message, update);
    renderList();
  }
}

socket.on("mention", (frame) => {
  const msg = frame.message || {};
  const who = (msg.author && msg.author.name) || "An operator";
  toast(`${who} mentioned you in a note: ${String(msg.text || "").slice(0, 120)}`, "info");
  if (msg.conversation_id && !state.convs.has(msg.conversation_id)) loadList();
});

socket.on("typing", onTyping);

// A colleague moving between the app's pages closes one socket just before the next page
// opens another: show them offline only when they stay away for a few seconds.
const PRESENCE_GRACE_MS = 10000;
const goingOffline = new Map(); // operator id -> timer

function forgetGoingOffline() {
  for (const timer of goingOffline.values()) clearTimeout(timer);
  goingOffline.clear();
}

socket.on("presence", (frame) => {
  const id = frame.operator_id;
  clearTimeout(goingOffline.get(id));
  goingOffline.delete(id);
  if (frame.online) {
    state.online.add(id);
  } else if (state.online.has(id) && id !== me.id) {
    goingOffline.set(id, setTimeout(() => {
      goingOffline.delete(id);
      state.online.delete(id);
      renderPresence();
    }, PRESENCE_GRACE_MS));
    return;
  } else {
    state.online.delete(id);
  }
  if (!state.operators.has(id)) loadOperators();
  renderPresence();
});

socket.on("resumed", (frame) => {
  const thread = state.threads.get(frame.conversation_id);
  if (thread) thread.resumed();
});

socket.on("error", (frame) => {
  const local = frame.ref ? state.refs.get(frame.ref) : null;
  if (local && frame.code === "window_closed") {
    const conv = state.convs.get(local.conversation_id);
    if (conv && conv.channel && conv.channel.kind === "whatsapp") {
      failLocal(local, null);
      if (state.current === local.conversation_id) showTemplateNotice(local.conversation_id, frame.detail);
      return;
    }
  }
  if (local) {
    const why = frame.code === "not_found" ? "this conversation no longer exists." :
      frame.code === "rate_limited" ? "you are sending too fast; retry in a moment." : frame.detail || frame.code;
    failLocal(local, why);
    return;
  }
  if (frame.code === "rate_limited") {
    for (const thread of state.threads.values()) if (thread.resuming) { thread.resuming = false; setTimeout(() => thread.resume(), 1000); }
    return;
  }
  if (frame.code !== "not_found") toast(frame.detail || frame.code, "error");
});

let bannerTimer = null;
socket.on("open", ({ reconnected }) => {
  clearTimeout(bannerTimer);
  dom.banner.hidden = true;
  dom.myStatus.classList.add("online");
  state.online.clear();
  forgetGoingOffline();
  // Catch up: every loaded thread resumes from its last seq; unsent replies go out again
  // with their client_id (idempotent); the list is refreshed for conversations not loaded.
  for (const thread of state.threads.values()) {
    thread.resuming = false;
    thread.resume();
    for (const local of thread.pending.values()) if (local.status === "sending") transmit(local);
  }
  if (reconnected) loadList();
  renderPresence();
  if (state.current) renderMessages();
});

socket.on("down", (code) => {
  dom.myStatus.classList.remove("online");
  state.online.clear(); // unknown until the next hello replays presence
  forgetGoingOffline();
  renderPresence();
  for (const local of state.refs.values()) clearTimeout(local.timer);
  clearTimeout(bannerTimer);
  // A blip under a second (a server restart handing over) does not flash the banner.
  bannerTimer = setTimeout(() => { if (!socket.online) dom.banner.hidden = false; }, code === 4000 ? 0 : 800);
  if (code === 1008 || socket.attempt >= 2) get("/api/me").catch(() => {}); // 401 -> /login
});

let countdown = null;
socket.on("retry", (delay) => {
  clearInterval(countdown);
  const until = Date.now() + delay;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    dom.retryIn.textContent = left > 0 ? ` in ${left}s` : "";
    if (left <= 0) clearInterval(countdown);
  };
  tick();
  countdown = setInterval(tick, 500);
});

// ---------------------------------------------------------------- page wiring

dom.status.addEventListener("change", () => loadList());
dom.back.addEventListener("click", () => { saveDraft(); sendTyping(false); closeThread(); });
dom.assignee.addEventListener("change", () => loadList());
setupFilters(() => loadList());
dom.listMore.addEventListener("click", () => loadList({ more: true }));

// Search: as you type (debounced); "/" (outside a text field) or Ctrl+K / ⌘K focuses it,
// Escape clears it.
let searchTimer = null;
dom.search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => loadList(), 250);
});
dom.search.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && dom.search.value) {
    dom.search.value = "";
    loadList();
  }
});
function typingInAField(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
document.addEventListener("keydown", (event) => {
  const ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
  const slash = event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typingInAField(event.target);
  if (!ctrlK && !slash) return;
  event.preventDefault();
  dom.search.focus();
  dom.search.select();
});
dom.scroller.addEventListener("scroll", () => {
  const thread = state.threads.get(state.current);
  if (thread && dom.scroller.scrollTop < 60) loadOlder(thread);
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.current) markRead(state.current);
});
window.addEventListener("hashchange", () => {
  const id = location.hash.slice(1);
  if (id && id !== state.current) openConversation(id);
});
setInterval(() => {
  // Expire typing indicators nobody switched off.
  let changed = false;
  for (const [id, t] of state.typing) if (t.until <= Date.now()) { state.typing.delete(id); changed = true; }
  if (changed) { renderTyping(); renderList(); }
}, 2000);

setContactHooks({
  renamed(contact) {
    for (const conv of state.convs.values()) {
      if (conv.contact && conv.contact.id === contact.id) conv.contact = { ...conv.contact, name: contact.name };
    }
    renderList();
    renderThreadHead();
  },
  erased(contactId) {
    for (const conv of [...state.convs.values()]) {
      if (conv.contact && conv.contact.id === contactId) dropConversation(conv.id);
    }
  },
});

wireTopbar();
const firstConv = location.hash.slice(1) || sessionStorage.getItem("inviaro.current");
await Promise.all([loadOperators(), loadList(), setupAi((text) => {
  // A suggestion only fills the box: the operator edits and sends it, or not.
  dom.reply.value = text;
  updateCount();
  dom.reply.focus();
})]);
socket.connect();
if (firstConv) openConversation(firstConv);
