// Settings → Operators: invite by email (the link is mailed when the server has mail, and
// always shown here to copy), the pending invitations, and a reset link for an operator.
"use strict";

import { clear, del, el, formatTime, get, me, post, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);

function linkBox(url, note) {
  const input = el("input", { type: "text", readonly: true, value: url, class: "link-to-copy", "aria-label": "Link" });
  const copy = el("button", { type: "button", class: "ghost small" }, "Copy link");
  copy.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(url);
      toast("Copied.", "ok", 2000);
    } catch (err) {
      toast("Copy failed; select the link and copy it by hand.", "error");
    }
  });
  return el("div", { class: "link-result" }, el("p", { class: "muted small" }, note), input, " ", copy);
}

export async function loadInvites() {
  const form = $("invite-form");
  const list = $("invites-body");
  if (!form || !list) return;
  if (!me.manager) {
    form.closest("section")?.querySelector("#invites")?.setAttribute("hidden", "");
    return;
  }
  try {
    const page = await get("/api/invites");
    clear(list);
    for (const invite of page.items) list.append(inviteRow(invite));
    $("invites-empty").hidden = page.items.length > 0;
  } catch (err) {
    report(err, "Could not load the invitations");
  }
}

function inviteRow(invite) {
  const withdraw = el("button", { type: "button", class: "ghost small" }, "Withdraw");
  const row = el("tr", {},
    el("td", {}, invite.email),
    el("td", {}, invite.role),
    el("td", {}, formatTime(invite.expires_at)),
    el("td", {}, withdraw));
  withdraw.addEventListener("click", async () => {
    try {
      await del(`/api/invites/${encodeURIComponent(invite.id)}`);
      row.remove();
      toast(`The invitation to ${invite.email} was withdrawn.`, "ok", 3000);
    } catch (err) {
      report(err, "Could not withdraw the invitation");
    }
  });
  return row;
}

export function resetLinkButton(op) {
  if (!me.manager || op.disabled || (op.role === "owner" && me.role !== "owner")) return null;
  const button = el("button", { type: "button", class: "ghost small" }, "Reset link");
  button.addEventListener("click", async () => {
    try {
      const made = await post(`/api/operators/${encodeURIComponent(op.id)}/reset-link`);
      const out = $("invite-result");
      clear(out);
      out.append(linkBox(made.url, `A password-reset link for ${op.name}: it works once, until ${formatTime(made.expires_at)}. Give it to them privately.`));
      out.hidden = false;
    } catch (err) {
      report(err, "Could not make a reset link");
    }
  });
  return button;
}

$("invite-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const f = form.elements;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const invite = await post("/api/invites", { email: f.email.value.trim(), role: f.role.value });
    const out = $("invite-result");
    clear(out);
    out.append(linkBox(invite.url, invite.mailed
      ? `An invitation was mailed to ${invite.email}. You can also give them this link:`
      : `Mail is not set up on this server: give ${invite.email} this link yourself. It works once.`));
    out.hidden = false;
    form.reset();
    loadInvites();
  } catch (err) {
    report(err, "Could not invite");
  } finally {
    button.disabled = false;
  }
});
