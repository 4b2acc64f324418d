"""Billing records: billing details, invoices with gap-free numbers, payments.

The hosting business that runs the hub is the seller; each workspace is a buyer. An
invoice (series ``INV``) or credit note (series ``CN``) is numbered ``INV-2026-000001``:
sequential per series and calendar year with no gaps, because the number is taken from
``invoice_counters`` in the transaction that writes the invoice (Postgres: the counter
row's lock orders two issuers; SQLite: ``BEGIN IMMEDIATE`` does). A rolled-back issue
gives its number back with it.

An issued invoice is never changed: the buyer and seller are copied into it, whether it
is paid is derived from its payments, and a correction is a credit note that reverses it.
Invoices and payments carry the workspace id without a foreign key: they outlive the
workspace's deletion and purge, and are deleted :func:`purge_billing` once they are
``retention_years`` old (10 by default: tax law in Bosnia and Herzegovina).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.ids import new_id
from hub.model import as_utc, rfc3339, utcnow
from hub.store import NotFound
from storage import models as m
from storage.models import table_of
from storage.vat import COUNTRIES, InvalidVat, normalize_vat

T_ACCOUNT = table_of(m.BillingAccount)
T_COUNTER = table_of(m.InvoiceCounter)
T_INVOICE = table_of(m.Invoice)
T_PAYMENT = table_of(m.Payment)
T_WS = table_of(m.Workspace)

INVOICE, CREDIT_NOTE = "invoice", "credit_note"
SERIES = {INVOICE: "INV", CREDIT_NOTE: "CN"}
RETENTION_YEARS = 10


class InvalidBilling(ValueError):
    """Billing input that cannot be used: ``field`` names it, the message says why."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class BillingConflict(Exception):
    """A request the records' state refuses (a second credit note, no billing details)."""


# ---------------------------------------------------------------- billing details


@dataclass(frozen=True, slots=True)
class Terms:
    """What the seller's settings say: currency, VAT rate, plans (cents per seat and
    month) and the seller's lines on an invoice."""

    currency: str
    vat_percent: int
    plans: Mapping[str, int]
    seller: Sequence[str]


def account_json(row: Any) -> dict[str, Any]:
    return {
        "workspace_id": row.workspace_id,
        "company_name": row.company_name,
        "address": row.address,
        "country": row.country,
        "vat_id": row.vat_id,
        "email": row.email,
        "plan": row.plan,
        "seats": row.seats,
        "updated_at": rfc3339(row.updated_at),
    }


async def get_account(conn: AsyncConnection, workspace_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(select(T_ACCOUNT).where(T_ACCOUNT.c.workspace_id == workspace_id))
    ).one_or_none()
    return account_json(row) if row else None


async def set_account(
    conn: AsyncConnection, workspace_id: str, details: Mapping[str, Any], terms: Terms
) -> dict[str, Any]:
    """Create or replace the workspace's billing details (validated here, see
    :func:`normalize_vat`); invoices already issued keep the details they were issued with."""
    country = str(details["country"]).upper()
    if country not in COUNTRIES:
        raise InvalidBilling("country", "country must be an ISO 3166 code such as BA or DE.")
    plan = str(details["plan"])
    if plan not in terms.plans:
        raise InvalidBilling("plan", f"plan must be one of {', '.join(sorted(terms.plans))}.")
    raw_vat = details.get("vat_id") or ""
    try:
        vat_id = normalize_vat(country, raw_vat) if raw_vat else None
    except InvalidVat as exc:
        raise InvalidBilling("vat_id", str(exc)) from None
    values = {
        "company_name": details["company_name"],
        "address": details["address"],
        "country": country,
        "vat_id": vat_id,
        "email": details.get("email") or None,
        "plan": plan,
        "seats": int(details["seats"]),
        "updated_at": utcnow(),
    }
    changed = await conn.execute(
        update(T_ACCOUNT).where(T_ACCOUNT.c.workspace_id == workspace_id).values(**values)
    )
    if changed.rowcount == 0:
        await conn.execute(T_ACCOUNT.insert().values(workspace_id=workspace_id, **values))
    account = await get_account(conn, workspace_id)
    assert account is not None
    return account


# ---------------------------------------------------------------- invoices


def _upsert_counter(conn: AsyncConnection, series: str, year: int) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(T_COUNTER)
        .values(series=series, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )


async def _next_number(conn: AsyncConnection, series: str, year: int) -> int:
    """The next number of ``series`` in ``year``, taken inside the caller's transaction."""
    bump = (
        update(T_COUNTER)
        .where(T_COUNTER.c.series == series, T_COUNTER.c.year == year)
        .values(last_number=T_COUNTER.c.last_number + 1)
        .returning(T_COUNTER.c.last_number)
    )
    number = (await conn.execute(bump)).scalar_one_or_none()
    if number is None:
        await conn.execute(_upsert_counter(conn, series, year))
        number = (await conn.execute(bump)).scalar_one()
    return int(number)


def _totals(lines: list[dict[str, Any]], vat_percent: int) -> tuple[int, int, int]:
    net = sum(int(line["amount"]) for line in lines)
    vat = (net * vat_percent + 50) // 100 if net >= 0 else -((-net * vat_percent + 50) // 100)
    return net, vat, net + vat


async def _issue(
    conn: AsyncConnection,
    workspace_id: str,
    kind: str,
    buyer: dict[str, Any],
    lines: list[dict[str, Any]],
    *,
    currency: str,
    vat_percent: int,
    seller: Sequence[str],
    period: str | None,
    corrects_id: str | None,
    note: str | None,
    now: datetime | None,
) -> dict[str, Any]:
    issued_at = as_utc(now or utcnow())
    series = SERIES[kind]
    seq = await _next_number(conn, series, issued_at.year)
    net, vat, total = _totals(lines, vat_percent)
    invoice_id = new_id("inv_")
    await conn.execute(
        T_INVOICE.insert().values(
            id=invoice_id,
            workspace_id=workspace_id,
            kind=kind,
            series=series,
            year=issued_at.year,
            seq=seq,
            number=f"{series}-{issued_at.year}-{seq:06d}",
            corrects_id=corrects_id,
            issued_at=issued_at,
            period=period,
            currency=currency,
            buyer=buyer,
            seller=list(seller),
            lines=lines,
            net=net,
            vat_percent=vat_percent,
            vat=vat,
            total=total,
            note=note,
        )
    )
    return await get_invoice(conn, workspace_id, invoice_id)


async def issue_invoice(
    conn: AsyncConnection,
    workspace_id: str,
    terms: Terms,
    period: str,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Issue the workspace's invoice for ``period`` (``YYYY-MM``): its plan times its
    seats, to its billing details as they are now. :class:`BillingConflict` without
    billing details."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise InvalidBilling("period", "period must be a month such as 2026-12.")
    account = await get_account(conn, workspace_id)
    if account is None:
        raise BillingConflict("The workspace has no billing details yet.")
    price = terms.plans.get(account["plan"])
    if price is None:
        raise BillingConflict(f"The plan {account['plan']!r} is no longer offered.")
    lines = [
        {
            "description": f"Inviaro {account['plan']} plan, {period}, per seat",
            "quantity": account["seats"],
            "unit_price": price,
            "amount": price * account["seats"],
        }
    ]
    buyer = {k: account[k] for k in ("company_name", "address", "country", "vat_id", "email")}
    return await _issue(
        conn,
        workspace_id,
        INVOICE,
        buyer,
        lines,
        currency=terms.currency,
        vat_percent=terms.vat_percent,
        seller=terms.seller,
        period=period,
        corrects_id=None,
        note=None,
        now=now,
    )


async def issue_credit_note(
    conn: AsyncConnection,
    invoice_id: str,
    reason: str,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A credit note reversing the whole of an invoice (the invoice itself stays as it
    was). NotFound for an unknown invoice; :class:`BillingConflict` for a credit note or
    an invoice already credited."""
    row = (await conn.execute(select(T_INVOICE).where(T_INVOICE.c.id == invoice_id))).one_or_none()
    if row is None:
        raise NotFound("no such invoice")
    if row.kind != INVOICE:
        raise BillingConflict("A credit note cannot itself be credited.")
    credited = await conn.scalar(
        select(func.count()).select_from(T_INVOICE).where(T_INVOICE.c.corrects_id == invoice_id)
    )
    if credited:
        raise BillingConflict(f"Invoice {row.number} already has a credit note.")
    lines = [
        {**line, "quantity": -int(line["quantity"]), "amount": -int(line["amount"])}
        for line in row.lines
    ]
    return await _issue(
        conn,
        row.workspace_id,
        CREDIT_NOTE,
        dict(row.buyer),
        lines,
        currency=row.currency,
        vat_percent=row.vat_percent,
        seller=list(row.seller),
        period=row.period,
        corrects_id=row.id,
        note=f"Corrects invoice {row.number}: {reason}"[:500],
        now=now,
    )


def _payment_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "provider": row.provider,
        "reference": row.reference,
        "amount": row.amount,
        "currency": row.currency,
        "paid_at": rfc3339(row.paid_at),
    }


async def _invoices_json(conn: AsyncConnection, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [r.id for r in rows]
    payments: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    credited: dict[str, str] = {}
    if ids:
        for p in await conn.execute(
            select(T_PAYMENT)
            .where(T_PAYMENT.c.invoice_id.in_(ids))
            .order_by(T_PAYMENT.c.paid_at, T_PAYMENT.c.id)
        ):
            payments[p.invoice_id].append(_payment_json(p))
        for c in await conn.execute(
            select(T_INVOICE.c.id, T_INVOICE.c.corrects_id).where(T_INVOICE.c.corrects_id.in_(ids))
        ):
            credited[c.corrects_id] = c.id
    out = []
    for r in rows:
        paid = sum(p["amount"] for p in payments[r.id] if p["currency"] == r.currency)
        if r.kind == CREDIT_NOTE:
            status = "credit_note"
        elif r.id in credited:
            status = "credited"
        else:
            status = "paid" if paid >= r.total else "open"
        out.append(
            {
                "id": r.id,
                "workspace_id": r.workspace_id,
                "kind": r.kind,
                "number": r.number,
                "issued_at": rfc3339(r.issued_at),
                "period": r.period,
                "currency": r.currency,
                "buyer": r.buyer,
                "seller": r.seller,
                "lines": r.lines,
                "net": r.net,
                "vat_percent": r.vat_percent,
                "vat": r.vat,
                "total": r.total,
                "note": r.note,
                "corrects_id": r.corrects_id,
                "credited_by": credited.get(r.id),
                "status": status,
                "amount_paid": paid,
                "amount_due": max(0, r.total - paid) if status == "open" else 0,
                "payments": payments[r.id],
            }
        )
    return out


async def get_invoice(
    conn: AsyncConnection, workspace_id: str | None, invoice_id: str
) -> dict[str, Any]:
    """One invoice with its payments and status; NotFound, also for another workspace's
    (``workspace_id`` None: any workspace, for the server admin)."""
    query = select(T_INVOICE).where(T_INVOICE.c.id == invoice_id)
    if workspace_id is not None:
        query = query.where(T_INVOICE.c.workspace_id == workspace_id)
    row = (await conn.execute(query)).one_or_none()
    if row is None:
        raise NotFound("no such invoice")
    return (await _invoices_json(conn, [row]))[0]


async def list_invoices(conn: AsyncConnection, workspace_id: str) -> list[dict[str, Any]]:
    """The workspace's invoices and credit notes, newest first."""
    rows = list(
        await conn.execute(
            select(T_INVOICE)
            .where(T_INVOICE.c.workspace_id == workspace_id)
            .order_by(T_INVOICE.c.issued_at.desc(), T_INVOICE.c.number.desc())
        )
    )
    return await _invoices_json(conn, rows)


# ---------------------------------------------------------------- payments


async def record_payment(
    conn: AsyncConnection,
    invoice_id: str,
    *,
    provider: str,
    event_id: str,
    reference: str | None,
    amount: int,
    currency: str,
    paid_at: datetime | None = None,
) -> bool:
    """Record money received for an invoice, once per ``event_id``: False when that event
    was recorded before (a provider's redelivery). NotFound for an unknown invoice."""
    row = (
        await conn.execute(
            select(T_INVOICE.c.id, T_INVOICE.c.workspace_id).where(T_INVOICE.c.id == invoice_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no such invoice")
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = await conn.execute(
        dialect.insert(T_PAYMENT)
        .values(
            id=new_id("pay_"),
            invoice_id=invoice_id,
            workspace_id=row.workspace_id,
            provider=provider,
            event_id=event_id[:255],
            reference=(reference or "")[:255] or None,
            amount=amount,
            currency=currency.upper()[:3],
            paid_at=as_utc(paid_at or utcnow()),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    return bool(inserted.rowcount)


# ---------------------------------------------------------------- retention


def years_before(moment: datetime, years: int) -> datetime:
    """``moment`` ``years`` calendar years earlier (29 February becomes the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


@dataclass
class BillingPurge:
    invoices: int = 0
    payments: int = 0
    billing_accounts: int = 0


async def _delete(engine: AsyncEngine, table: Table, where: Any, dry_run: bool) -> int:
    async with engine.begin() as conn:
        if dry_run:
            return int(await conn.scalar(select(func.count()).select_from(table).where(where)) or 0)
        return int((await conn.execute(delete(table).where(where))).rowcount)


async def purge_billing(
    engine: AsyncEngine, as_of: datetime, years: int = RETENTION_YEARS, dry_run: bool = False
) -> BillingPurge:
    """Delete invoices issued more than ``years`` before ``as_of`` with their payments,
    and the billing details of a purged workspace once none of its invoices is left.

    An invoice issued at T is kept at T + ``years`` and gone a day later."""
    cutoff = years_before(as_utc(as_of), years)
    report = BillingPurge()
    old = select(T_INVOICE.c.id).where(T_INVOICE.c.issued_at < cutoff)
    report.payments = await _delete(engine, T_PAYMENT, T_PAYMENT.c.invoice_id.in_(old), dry_run)
    report.invoices = await _delete(engine, T_INVOICE, T_INVOICE.c.issued_at < cutoff, dry_run)
    orphan = and_(
        ~exists().where(T_WS.c.id == T_ACCOUNT.c.workspace_id),
        ~exists().where(
            T_INVOICE.c.workspace_id == T_ACCOUNT.c.workspace_id,
            # On a dry run the old invoices are still there; count them as gone.
            T_INVOICE.c.issued_at >= cutoff,
        ),
    )
    report.billing_accounts = await _delete(engine, T_ACCOUNT, orphan, dry_run)
    return report
