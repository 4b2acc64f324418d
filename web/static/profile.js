// Settings → Profile: your name and initials, your password, and the browsers signed in as
// you, with "sign out everywhere else".
"use strict";

import { api, clear, del, el, formatTime, get, patch, post, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);

function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?").slice(0, 2);
  return letters.toUpperCase();
}

function showName(name) {
  $("profile-name").textContent = name;
  $("profile-avatar").textContent = initials(name);
  const top = $("operator-name");
  if (top) top.textContent = name;
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

if ($("profile-form")) {
  showName($("profile-name").textContent);
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
  if (!$("tab-profile").hidden) loadSessions();
  new MutationObserver(() => { if (!$("tab-profile").hidden) loadSessions(); })
    .observe($("tab-profile"), { attributes: true, attributeFilter: ["hidden"] });
}
