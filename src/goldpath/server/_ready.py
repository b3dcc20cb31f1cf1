"""``GET /ready``: readiness, for a load balancer or an orchestrator deciding where to send
traffic. The database answers with this code's schema, and the stream backend (Redis when
configured) answers. A failure says only which check failed; why goes to the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from goldpath.server._state import AppState, app_state

__all__ = ["READY_TIMEOUT", "UNAVAILABLE", "router"]

logger = logging.getLogger("goldpath.server.ready")

READY_TIMEOUT = 2.0
"""Seconds each check may take before it counts as failed."""
UNAVAILABLE = "unavailable"

router = APIRouter()


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Literal["ok", "unavailable"]]


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "a check failed"}},
    tags=["health"],
)
async def ready(state: Annotated[AppState, Depends(app_state)]) -> JSONResponse:
    """200 when this process can serve: the store is reachable with the current schema and
    the stream backend answers; 503 naming the failed check otherwise."""
    checks = {
        "store": await _probe("store", state.store.check_schema()),
        "stream": await _probe("stream", state.hub.check()),
    }
    ok = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ok else "not_ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


async def _probe(name: str, check: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(check, READY_TIMEOUT)
    except TimeoutError:
        logger.warning("not ready: %s gave no answer within %g s", name, READY_TIMEOUT)
        return UNAVAILABLE
    except Exception as exc:
        logger.warning("not ready: %s: %s", name, exc)
        return UNAVAILABLE
    return "ok"
