// Sign-in and sign-up forms: post the fields as JSON, ask for the second factor when the
// API answers otp_required, explain wrong passwords, wrong codes and throttling, then go on.
"use strict";

const params = new URLSearchParams(location.search);

// Where to go after signing in: the "next" parameter only when it is a path on this site,
// else the inbox. Browsers drop tabs and newlines from URLs and read a backslash as "/",
// so "/%09/evil.example" is "//evil.example" to them: prefix checks miss that. Resolve
// the value the way the browser will and keep it only if the result stays on this origin
// with a path that starts with one slash (a "//" path would be another host if reused).
function nextUrl() {
  const next = params.get("next") || "";
  if (!next.startsWith("/")) return "/inbox";
  let url;
  try {
    url = new URL(next, location.origin);
  } catch {
    return "/inbox";
  }
  if (url.origin !== location.origin || !url.pathname.startsWith("/") || url.pathname.startsWith("//")) {
    return "/inbox";
  }
  return url.pathname + url.search + url.hash;
}

function showError(form, message) {
  const box = form.querySelector("#form-error");
  box.textContent = message;
  box.hidden = !message;
}

async function submitForm(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = {};
  for (const [key, value] of new FormData(form).entries()) {
    const text = typeof value === "string" ? value.trim() : value;
    if (text !== "") body[key] = key === "password" ? value : text;
  }
  if (!body.email || !body.password) {
    showError(form, "Enter your email and password.");
    return;
  }
  if (form.dataset.restore) body.restore_workspace = true;
  const otpField = form.querySelector("#otp-field");
  const askedForCode = otpField && !otpField.hidden;
  if (askedForCode && !body.otp) {
    showError(form, "Enter the 6-digit code from your authenticator app.");
    otpField.querySelector("input").focus();
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  showError(form, "");
  try {
    const response = await fetch(form.dataset.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    if (response.ok) {
      window.location.assign(form.id === "signup-form" ? "/inbox" : nextUrl());
      return;
    }
    const problem = await response.json().catch(() => ({}));
    if (response.status === 429) {
      const wait = Number(response.headers.get("Retry-After"));
      const when = Number.isFinite(wait) && wait > 0
        ? (wait >= 90 ? `about ${Math.ceil(wait / 60)} minutes` : `${wait} seconds`) : "a while";
      showError(form, `Too many failed attempts. Wait ${when}, then try again.`);
    } else if (problem.error === "otp_required") {
      otpField.hidden = false;
      const input = otpField.querySelector("input");
      if (askedForCode) {
        showError(form, "That code is wrong or was already used. Wait for the next code and try again.");
        input.select();
      } else {
        showError(form, "");
        form.querySelector("#otp-hint")?.remove();
        input.focus();
      }
    } else if (problem.error === "workspace_deleted") {
      // The owner of a deleted workspace: offer to bring it back (a code works once, so
      // with 2FA the next one is needed).
      form.dataset.restore = "1";
      document.getElementById("deleted-done")?.remove();
      button.textContent = "Restore the workspace and sign in";
      showError(form, "");
      let note = document.getElementById("restore-note");
      if (!note) {
        note = document.createElement("p");
        note.className = "notice";
        note.id = "restore-note";
        form.prepend(note);
      }
      note.textContent = problem.detail;
      if (otpField && !otpField.hidden) {
        otpField.querySelector("input").value = "";
        note.textContent += " Enter the next code from your authenticator app.";
      }
    } else if (problem.error === "invalid_credentials") {
      showError(form, "The email or password is wrong.");
      if (otpField) { otpField.hidden = true; otpField.querySelector("input").value = ""; }
    } else if (problem.error === "email_taken") {
      showError(form, "An account with this email already exists. Sign in instead.");
    } else if (response.status >= 500) {
      showError(form, "The server had a problem. Try again in a moment.");
    } else {
      showError(form, problem.detail || "Something went wrong; try again.");
    }
  } catch (err) {
    showError(form, "The server could not be reached. Check your connection and try again.");
  } finally {
    button.disabled = false;
  }
}

for (const id of ["login-form", "signup-form"]) {
  const form = document.getElementById(id);
  if (form) form.addEventListener("submit", submitForm);
}

if (params.get("expired")) {
  const form = document.getElementById("login-form");
  if (form) {
    const note = document.createElement("p");
    note.className = "notice";
    note.textContent = "Your session ended. Sign in again; your unsent reply is kept.";
    form.prepend(note);
  }
}

if (params.get("reset")) {
  const form = document.getElementById("login-form");
  if (form) {
    const note = document.createElement("p");
    note.className = "notice";
    note.id = "reset-done";
    note.textContent = "Your new password is set. Sign in with it.";
    form.prepend(note);
  }
}

if (params.get("deleted")) {
  const form = document.getElementById("login-form");
  if (form) {
    const note = document.createElement("p");
    note.className = "notice";
    note.id = "deleted-done";
    note.textContent = "The workspace was deleted. Changed your mind? Sign in as its owner within 90 days to restore it.";
    form.prepend(note);
  }
}
