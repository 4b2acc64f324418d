// The inbox page (a placeholder for now): sign out with the session's CSRF token.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;

document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/api/logout", {
    method: "POST",
    headers: { "X-CSRF-Token": csrf },
    credentials: "same-origin",
  });
  window.location.assign("/login");
});
