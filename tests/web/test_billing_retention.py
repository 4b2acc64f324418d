"""An invoice's whole life, as the server admin and an owner live it: issued with
``inviaro billing issue``, paid through the fake Stripe, downloaded as PDF, kept after its
workspace is deleted and purged, present at 10 years and gone at 10 years and a day
(``inviaro purge --as-of``). Each test has a database of its own: purging ten years
ahead would empty the shared one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hub.model import rfc3339, utcnow
from hub.store import NotFound
from storage import billing, migrate
from storage.db import make_engine
from tests.conftest import LiveServer, _create_pg_database, _drop_pg_database, start_server
from tests.conftest import make_settings as settings_for
from tests.fake_stripe import ORIGIN, FakeStripe, running_fake_stripe
from tests.helpers import PASSWORD, new_client, signup
from tests.web.test_billing import BILLING, DETAILS


@pytest.fixture
async def own_db(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    if db_url.startswith("sqlite"):
        url = f"sqlite+aiosqlite:///{tmp_path / 'billing.db'}"
    else:
        url = await _create_pg_database()
    engine = make_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield url
    if not url.startswith("sqlite"):
        await _drop_pg_database(url)


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with running_fake_stripe() as fake:
        yield fake


@pytest.fixture
async def live(own_db: str, fake: FakeStripe) -> AsyncIterator[LiveServer]:
    settings = settings_for(own_db, provider_origins=((ORIGIN, fake.url),), **BILLING)
    live, server, task = await start_server(settings)
    yield live
    server.should_exit = True
    await task


def inviaro(cwd: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "DATABASE_URL": database_url,
        "PATH": "/usr/bin:/bin",
        "INVIARO_BILLING": "on",
        "INVIARO_BILLING_PLANS": "standard=1500,business=2900",
        "INVIARO_BILLING_VAT_PERCENT": "17",
    }
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def ten_years_after(moment: datetime) -> datetime:
    return moment.replace(year=moment.year + 10)


async def test_a_paid_invoice_outlives_its_workspace_for_ten_years_then_goes(
    live: LiveServer, own_db: str, fake: FakeStripe, tmp_path: Path
) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        assert (
            await client.put("/api/billing/details", json=DETAILS, headers=owner.csrf)
        ).is_success
        issued = inviaro(tmp_path, own_db, "billing", "issue", "--period", "2026-12")
        assert issued.returncode == 0, issued.stderr
        [line] = [row for row in issued.stdout.splitlines() if owner.workspace_id in row]
        number, _, invoice_id = line.split()
        assert number.startswith("INV-")
        again = inviaro(tmp_path, own_db, "billing", "issue", "--period", "2026-12")
        assert owner.workspace_id not in again.stdout  # one invoice per month

        session_id = (await owner.post(f"/api/billing/invoices/{invoice_id}/pay")).json()[
            "session_id"
        ]
        assert (await fake.send(live.url, fake.event(session_id))).status_code == 200
        pdf = await owner.get(f"/api/billing/invoices/{invoice_id}/pdf")
        assert pdf.content.startswith(b"%PDF-")
        invoice = (await owner.get(f"/api/billing/invoices/{invoice_id}")).json()
        assert invoice["status"] == "paid"
        gone = await client.request(
            "DELETE", "/api/workspace", json={"password": PASSWORD}, headers=owner.csrf
        )
        assert gone.status_code == 204, gone.text

    purged = inviaro(tmp_path, own_db, "purge", "--as-of", rfc3339(utcnow() + timedelta(days=91)))
    assert purged.returncode == 0, purged.stderr
    assert "workspaces: 1" in purged.stdout and "invoices: 0" in purged.stdout

    issued_at = datetime.fromisoformat(invoice["issued_at"].replace("Z", "+00:00"))
    at_ten_years = inviaro(
        tmp_path, own_db, "purge", "--as-of", rfc3339(ten_years_after(issued_at))
    )
    assert "invoices: 0, payments: 0" in at_ten_years.stdout
    engine = make_engine(own_db)
    try:
        async with engine.connect() as conn:
            kept = await billing.get_invoice(conn, None, invoice_id)
        assert kept["status"] == "paid" and kept["number"] == number

        day_later = rfc3339(ten_years_after(issued_at) + timedelta(days=1))
        after = inviaro(tmp_path, own_db, "purge", "--as-of", day_later)
        assert "invoices: 1, payments: 1, billing accounts: 1" in after.stdout, after.stdout
        async with engine.connect() as conn:
            with pytest.raises(NotFound):
                await billing.get_invoice(conn, None, invoice_id)
    finally:
        await engine.dispose()


async def test_a_credit_note_is_issued_from_the_command_line(
    live: LiveServer, own_db: str, tmp_path: Path
) -> None:
    async with new_client(live.url) as client:
        owner = await signup(client)
        await client.put("/api/billing/details", json=DETAILS, headers=owner.csrf)
        issued = inviaro(tmp_path, own_db, "billing", "issue", "--period", "2026-11")
        invoice_id = issued.stdout.split()[2]
        credited = inviaro(
            tmp_path, own_db, "billing", "credit-note", invoice_id, "--reason", "wrong seats"
        )
        assert credited.returncode == 0, credited.stderr
        assert credited.stdout.startswith("CN-")
        twice = inviaro(tmp_path, own_db, "billing", "credit-note", invoice_id, "--reason", "x")
        assert twice.returncode == 1 and "already has a credit note" in twice.stderr
        shown = (await owner.get(f"/api/billing/invoices/{invoice_id}")).json()
        assert shown["status"] == "credited"
        reissued = inviaro(tmp_path, own_db, "billing", "issue", "--period", "2026-11")
        assert reissued.stdout.startswith("INV-") and invoice_id not in reissued.stdout


def test_billing_commands_are_refused_while_billing_is_off(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "billing", "issue", "--period", "2026-12"],
        env={"DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "inviaro: billing is off; set INVIARO_BILLING=on to use it."
    )
