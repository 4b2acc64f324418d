// Settings → Profile: your name, picture (or initials), your password, and the browsers
// signed in as you, with "sign out everywhere else".
"use strict";

import { ApiError, api, clear, del, el, formatTime, get, patch, post, report, sessionLost, toast } from "./api.js";

const $ = (id) => document.getElementById(id);

function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
  return letters.toUpperCase();
}

let avatarUrl = null;

function showName(name) {
  $("profile-name").textContent = name;
  showAvatar(avatarUrl);
  const top = $("operator-name");
  if (top) top.textContent = name;
}

/** The picture where there is one, else the initials of the name. */
function showAvatar(url) {
  avatarUrl = url;
  const box = $("profile-avatar");
  box.replaceChildren(url ? el("img", { src: url, alt: "" }) : initials($("profile-name").textContent));
  $("avatar-remove").hidden = !url;
}

/** PUT the chosen file's bytes as they are; the server tells the type from them. */
async function uploadAvatar(file) {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch("/api/me/avatar", {
    method: "PUT",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf, "Content-Type": file.type || "application/octet-stream" },
    body: file,
  }).catch(() => { throw new ApiError(0, "network", "The server could not be reached."); });
  if (response.status === 401) sessionLost();
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.error, body.detail || `HTTP ${response.status}`);
  return body;
}

export async function loadSessions() {
  const body = $("sessions-body");
  try {
    const page = await get("/api/me/sessions");
    clear(body);
    for (const s of page.items) {
      const end = s.current ? el("span", { class: "pill status-open" }, "this browser")
        : el("button", { type: "button", class: "ghost small" }, "Sign out");
      if (!s.current) {
        end.addEventListener("click", async () => {
          try {
            await del(`/api/me/sessions/${encodeURIComponent(s.id)}`);
            row.remove();
          } catch (err) {
            report(err, "Could not sign that session out");
          }
        });
      }
      const row = el("tr", { dataset: { sessionId: s.id, current: s.current ? "1" : "" } },
        el("td", {}, formatTime(s.created_at)),
        el("td", {}, formatTime(s.last_seen_at)),
        el("td", {}, s.ip || ""),
        el("td", {}, end));
      body.append(row);
    }
  } catch (err) {
    report(err, "Could not load your sessions");
  }
}

const NOTIFY_KINDS = ["new_conversations", "assigned", "mentions", "sound"];

async function loadNotifications() {
  try {
    const prefs = await get("/api/me/notifications");
    for (const key of NOTIFY_KINDS) $("profile-notify-form").elements[key].checked = Boolean(prefs[key]);
  } catch (err) {
    report(err, "Could not load your notification preferences");
  }
}

if ($("profile-form")) {
  showName($("profile-name").textContent);
  get("/api/me").then((account) => showAvatar(account.operator.avatar_url)).catch(() => {});
  $("avatar-file").addEventListener("change", async (event) => {
    const input = event.currentTarget;
    const [file] = input.files;
    if (!file) return;
    try {
      showAvatar((await uploadAvatar(file)).avatar_url);
      toast("Your picture was saved.", "ok", 3000);
    } catch (err) {
      report(err, "Could not save your picture");
    } finally {
      input.value = "";
    }
  });
  $("avatar-remove").addEventListener("click", async () => {
    try {
      await del("/api/me/avatar");
      showAvatar(null);
      toast("Your picture was removed.", "ok", 3000);
    } catch (err) {
      report(err, "Could not remove your picture");
    }
  });
  $("profile-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = event.currentTarget.elements.name.value.trim();
    try {
      const operator = await patch("/api/me", { name });
      showName(operator.name);
      toast("Your name was saved.", "ok", 3000);
    } catch (err) {
      report(err, "Could not save your name");
    }
  });
  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    try {
      await api("POST", "/api/password", {
        current_password: form.elements.current_password.value,
        new_password: form.elements.new_password.value,
      });
      // Every session ended and this browser got a new one: reload for its CSRF token.
      window.location.assign("/settings?tab=profile&password=changed");
    } catch (err) {
      report(err, "Could not change your password");
    }
  });
  $("end-other-sessions").addEventListener("click", async () => {
    try {
      const done = await post("/api/me/sessions/end-others");
      toast(done.ended === 1 ? "1 other session was signed out." : `${done.ended} other sessions were signed out.`, "ok", 4000);
      loadSessions();
    } catch (err) {
      report(err, "Could not sign out the other sessions");
    }
  });
  if (new URLSearchParams(location.search).get("password") === "changed") {
    toast("Your password was changed. You are signed out everywhere else.", "ok");
  }
  $("profile-notify-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const key of NOTIFY_KINDS) body[key] = event.currentTarget.elements[key].checked;
    try {
      await api("PUT", "/api/me/notifications", body);
      toast("Your notification preferences were saved.", "ok", 3000);
    } catch (err) {
      report(err, "Could not save your notification preferences");
    }
  });
  const shown = () => {
    if ($("tab-profile").hidden) return;
    loadSessions();
    loadNotifications();
  };
  shown();
  new MutationObserver(shown).observe($("tab-profile"), { attributes: true, attributeFilter: ["hidden"] });
}
