// Settings → Workspace → Delete the workspace (owners): confirmed with the password, then
// the sign-in page, where the owner can restore it within the recovery period.
"use strict";

import { api, report } from "./api.js";

const form = document.getElementById("delete-workspace-form");
form?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const password = form.elements.password.value;
  if (!password) return;
  if (!window.confirm("Delete this workspace? Everyone is signed out and every channel stops at once.")) return;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api("DELETE", "/api/workspace", { password });
    window.location.assign("/login?deleted=1");
  } catch (err) {
    report(err, err.status === 403 ? "The password is wrong" : "Could not delete the workspace");
    button.disabled = false;
  }
});
