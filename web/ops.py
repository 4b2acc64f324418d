"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from web import metrics as _metrics  # noqa: F401  (registers the inviaro_ metrics)
from web.app_state import services_of
from web.contracts import operations as operations_contract
from web.operation import declare

# Ready means "can accept and acknowledge messages": past this wait of the oldest message
# not yet committed, the writer is stalled, whatever a probe says.
WRITER_STALLED_S = 10.0


@declare(operations_contract.HEALTHZ)
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@declare(operations_contract.READYZ)
async def readyz(request: Request) -> Response:
    """200 when this process can accept and acknowledge messages: the writer's locks are
    granted now and its oldest message has not waited long. Redis only carries messages
    between processes (acks go on without it): when it is away the answer is still 200,
    with ``"status": "degraded"``, so a load balancer keeps sending traffic."""
    services = services_of(request)
    checks: dict[str, str] = {}
    checks["database"] = "ok" if await services.store.can_write() else "unavailable"
    stalled = services.store.writer.waiting_s() > WRITER_STALLED_S
    checks["writer"] = "stalled" if stalled else "ok"
    if services.settings.redis_url:
        checks["redis"] = "ok" if await services.redis_ok() else "unreachable"
    if checks["database"] != "ok" or stalled:
        status, code = "not_ready", 503
    elif checks.get("redis", "ok") != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    return JSONResponse({"status": status, "checks": checks}, status_code=code)


@declare(operations_contract.METRICS)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics),
]
