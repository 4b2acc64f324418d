// Settings → Billing (owners, where the server turns billing on): the billing details,
// plan and seats (PUT /api/billing/details), the invoices with their PDFs, and paying an
// open one through Stripe Checkout (POST /api/billing/invoices/{id}/pay).
"use strict";

import { api, el, get, post, report, toast } from "./api.js";

const $ = (id) => document.getElementById(id);

function money(minor, currency) {
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100).toLocaleString("en")}.${String(abs % 100).padStart(2, "0")} ${currency}`;
}

export async function loadBilling() {
  const form = $("billing-form");
  try {
    const billing = await get("/api/billing");
    const plan = $("billing-plan");
    plan.replaceChildren(...billing.plans.map((p) =>
      el("option", { value: p.name }, `${p.name} — ${money(p.price_per_seat, billing.currency)} per seat and month`)));
    const d = billing.details;
    if (d) {
      for (const name of ["company_name", "address", "country", "vat_id", "email", "plan", "seats"]) {
        form.elements[name].value = d[name] ?? "";
      }
    }
    await loadInvoices(billing.payments);
  } catch (err) {
    report(err, "Could not load billing");
  }
  if (new URLSearchParams(location.search).get("paid")) toast("Thank you: the payment is being confirmed.", "ok", 6000);
}

$("billing-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = $("billing-error");
  error.hidden = true;
  const value = (name) => form.elements[name].value.trim();
  const body = {
    company_name: value("company_name"), address: value("address"), country: value("country").toUpperCase(),
    plan: value("plan"), seats: Number(value("seats")),
  };
  if (value("vat_id")) body.vat_id = value("vat_id");
  if (value("email")) body.email = value("email");
  try {
    const saved = await api("PUT", "/api/billing/details", body);
    form.elements.vat_id.value = saved.vat_id ?? "";
    toast("Billing details saved.", "ok", 3000);
  } catch (err) {
    error.textContent = err.detail || err.message;
    error.hidden = false;
  }
});

async function loadInvoices(payments) {
  const body = $("invoices-body");
  const { items } = await get("/api/billing/invoices");
  if (!items.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No invoices yet.")));
    return;
  }
  body.replaceChildren(...items.map((inv) => {
    const base = `/api/billing/invoices/${encodeURIComponent(inv.id)}`;
    const actions = el("td", { class: "row" },
      el("a", { href: `${base}/pdf`, download: `${inv.number}.pdf` }, "PDF"),
      el("a", { href: `${base}/html`, target: "_blank", rel: "noopener" }, "View"));
    if (payments && inv.status === "open") {
      const pay = el("button", { type: "button", class: "primary small" }, "Pay");
      pay.addEventListener("click", async () => {
        pay.disabled = true;
        try {
          const { checkout_url } = await post(`${base}/pay`);
          location.assign(checkout_url);
        } catch (err) {
          pay.disabled = false;
          report(err, "Could not open the payment page");
        }
      });
      actions.append(pay);
    }
    return el("tr", { dataset: { invoiceId: inv.id } },
      el("td", {}, inv.number), el("td", {}, inv.issued_at.slice(0, 10)), el("td", {}, inv.period || ""),
      el("td", {}, money(inv.total, inv.currency)), el("td", {}, inv.status.replace("_", " ")), actions);
  }));
}
