// The forms behind account links: accept an invitation (then the inbox), set a new
// password (then sign in), and ask for a reset link (the same answer whatever the email).
"use strict";

function showError(form, message) {
  const box = form.querySelector("#form-error");
  box.textContent = message;
  box.hidden = !message;
}

function fields(form) {
  const body = {};
  for (const [key, value] of new FormData(form).entries()) {
    const text = typeof value === "string" && key !== "password" ? value.trim() : value;
    if (text !== "") body[key] = text;
  }
  if (form.dataset.token) body.token = form.dataset.token;
  return body;
}

function problemText(response, problem) {
  if (response.status === 429) {
    const wait = Number(response.headers.get("Retry-After"));
    return `Too many tries. Wait ${Number.isFinite(wait) && wait > 0 ? wait + " seconds" : "a while"}, then try again.`;
  }
  if (response.status >= 500) return "The server had a problem. Try again in a moment.";
  if (problem.error === "invalid" && Array.isArray(problem.problems)) {
    const names = { name: "Your name", password: "The password", email: "The email", otp: "The code" };
    return problem.problems.map((p) => {
      if (p.field === "password") return "The password needs at least 10 characters.";
      return `${names[p.field] || p.field}: ${p.detail.replace(/^\w+: /, "")}`;
    }).join(" ");
  }
  return problem.detail || "Something went wrong; try again.";
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = fields(form);
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
      if (form.id === "invite-form") {
        window.location.assign("/inbox");
      } else if (form.id === "reset-form") {
        window.location.assign("/login?reset=1");
      } else {
        const answer = await response.json().catch(() => ({}));
        form.querySelector("#form-done").textContent = answer.detail || "Check your mail.";
      }
      return;
    }
    const problem = await response.json().catch(() => ({}));
    if (response.status === 410) {
      // The link died meanwhile (used in another tab, expired): show its page.
      window.location.reload();
      return;
    }
    showError(form, problemText(response, problem));
  } catch (err) {
    showError(form, "The server could not be reached. Check your connection and try again.");
  } finally {
    button.disabled = false;
  }
}

for (const id of ["invite-form", "reset-form", "forgot-form"]) {
  const form = document.getElementById(id);
  if (form) form.addEventListener("submit", submit);
}
