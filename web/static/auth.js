// Sign-in and sign-up forms: post the fields as JSON, then go to the inbox.
"use strict";

function showError(form, message) {
  const box = form.querySelector("#form-error");
  box.textContent = message;
  box.hidden = false;
}

async function submitForm(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = {};
  for (const [key, value] of new FormData(form).entries()) {
    if (value !== "") body[key] = value;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const response = await fetch(form.dataset.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
    if (response.ok) {
      window.location.assign("/inbox");
      return;
    }
    const problem = await response.json().catch(() => ({}));
    if (problem.error === "otp_required") {
      const otp = form.querySelector("#otp-field");
      if (otp) {
        otp.hidden = false;
        otp.querySelector("input").focus();
      }
    }
    showError(form, problem.detail || "Something went wrong; try again.");
  } catch (err) {
    showError(form, "The server could not be reached; try again.");
  } finally {
    button.disabled = false;
  }
}

for (const id of ["login-form", "signup-form"]) {
  const form = document.getElementById(id);
  if (form) form.addEventListener("submit", submitForm);
}
