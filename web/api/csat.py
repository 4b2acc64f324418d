"""The satisfaction report: ``GET /api/reports/csat?days=30`` (managers) → surveys sent in
the last ``days`` (1 to 365), answered and their average, overall, per operator and per
team (as assigned when the conversation was resolved). See :mod:`web.csat`."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.model import utcnow
from storage import csat
from web.auth.context import MANAGERS, require
from web.contracts import csat as csat_contract
from web.operation import declare


@declare(csat_contract.CSAT_REPORT)
async def csat_report(request: Request) -> Response:
    who = await require(request, roles=MANAGERS)
    days: int = csat_contract.CSAT_REPORT.query(request)["days"]
    since = utcnow() - timedelta(days=days)
    async with request.app.state.services.db() as db:
        report = await csat.report(await db.connection(), who.workspace_id, since)
    return JSONResponse({"days": days, **report})


routes = [Route("/api/reports/csat", csat_report, methods=["GET"])]
