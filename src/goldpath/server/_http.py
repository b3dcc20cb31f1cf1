"""Every HTTP route of PROTOCOL.md: accounts, threads, runs and health."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from goldpath._version import __version__
from goldpath.errors import AuthError, NotFoundError
from goldpath.server._auth import TokenClaims
from goldpath.server._errors import ApiError, describe_validation
from goldpath.server._paging import (
    MAX_PAGE,
    NEXT_CURSOR,
    message_cursor,
    read_message_cursor,
    read_thread_cursor,
    thread_cursor,
)
from goldpath.server._run_rules import require_run_id, require_thread_id
from goldpath.server._schemas import (
    ApprovalBody,
    ErrorBody,
    HealthOut,
    LoginBody,
    NewThreadBody,
    RegisterBody,
    RenameThreadBody,
    RunAcceptedOut,
    RunBody,
    RunOut,
    ThreadDetailOut,
    ThreadOut,
    TokenOut,
    UserOut,
    message_out,
    run_out,
    thread_out,
)
from goldpath.server._state import AppState, app_state
from goldpath.store import DEFAULT_TITLE

__all__ = ["router"]

logger = logging.getLogger("goldpath.server")

HEALTH_TIMEOUT = 2.0
HEALTH_FAILED = "unavailable; the details are in the server's log"
RUN_EVENTS_LIMIT = 1000
MAX_OFFSET = 2**63 - 1
"""The largest offset a store keeps (a signed 64-bit column); more is 422, not a 500."""

_bearer = HTTPBearer(auto_error=False, description="the access_token from POST /auth/login")


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        401: "no valid access token",
        404: "no such object for this user (someone else's is reported the same way)",
        409: "conflict",
        422: "the body is not valid (code bad_request), or the message is too long (too_large)",
        429: "rate limited; see the Retry-After header",
    }
    return {s: {"model": ErrorBody, "description": reasons[s]} for s in statuses}


State = Annotated[AppState, Depends(app_state)]


async def token_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenClaims:
    """The claims of the valid, unrevoked token in ``Authorization: Bearer <token>``."""
    if credentials is None:
        raise AuthError("send 'Authorization: Bearer <access_token>'; get a token at /auth/login")
    claims = await app_state(request).auth.authenticate(credentials.credentials)
    request.state.user_id = claims.user_id
    return claims


Claims = Annotated[TokenClaims, Depends(token_claims)]


async def current_user(claims: Claims) -> str:
    """The authenticated user's id."""
    return claims.user_id


User = Annotated[str, Depends(current_user)]

router = APIRouter()


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "a check failed"}},
    tags=["health"],
)
async def health(state: State) -> JSONResponse:
    """Cheap checks of the store (its schema is there) and the stream backend. A failed
    check says only that it failed: why (an address, a driver's error) goes to the log."""
    checks = {
        "store": await _check("store", state.store.ping()),
        "stream": await _check("stream", state.hub.check()),
    }
    ok = all(value == "ok" for value in checks.values())
    body = {"status": "ok" if ok else "degraded", "version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)


async def _check(name: str, probe: Any) -> str:
    try:
        await asyncio.wait_for(probe, HEALTH_TIMEOUT)
    except TimeoutError:
        logger.error("health check %s: no answer within %g s", name, HEALTH_TIMEOUT)
        return f"no answer within {HEALTH_TIMEOUT:g} s"
    except Exception as exc:
        logger.error("health check %s failed: %s", name, exc, exc_info=exc)
        return HEALTH_FAILED
    return "ok"


@router.post(
    "/auth/register",
    status_code=201,
    response_model=UserOut,
    responses=_errors(409, 422, 429),
    tags=["auth"],
)
async def register(body: RegisterBody, request: Request, state: State) -> UserOut:
    """Make an account; usernames are unique regardless of case. Registrations per client
    address are limited (``GOLDPATH_REGISTRATIONS_PER_ADDRESS`` an hour)."""
    address = request.client.host if request.client else "unknown"
    user = await state.auth.register(body.username, body.password, address)
    return UserOut(user_id=user.user_id, username=user.username)


_LOGIN_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": LoginBody.model_json_schema()},
        "application/x-www-form-urlencoded": {"schema": LoginBody.model_json_schema()},
    },
}


@router.post(
    "/auth/login",
    response_model=TokenOut,
    responses=_errors(401, 422, 429),
    openapi_extra={"requestBody": _LOGIN_BODY},
    tags=["auth"],
)
async def login(request: Request, state: State) -> TokenOut:
    """A JSON body or an OAuth2 password form. Failed logins are limited; successful ones not."""
    body = await _login_body(request)
    address = request.client.host if request.client else "unknown"
    token = await state.auth.login(body.username, body.password, address)
    return TokenOut(access_token=token.token, expires_in=token.expires_in)


@router.post("/auth/logout", status_code=204, responses=_errors(401), tags=["auth"])
async def logout(claims: Claims, state: State) -> Response:
    """Revoke the token this request carries: from now on it gets 401, and 4401 on /ws."""
    await state.auth.logout(claims)
    return Response(status_code=204)


async def _login_body(request: Request) -> LoginBody:
    content_type = request.headers.get("content-type", "")
    raw: Any
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        async with request.form() as form:
            raw = {key: form.get(key) for key in ("username", "password") if key in form}
    else:
        try:
            raw = json.loads(await request.body())
        except (ValueError, RecursionError):
            raise ApiError(
                422, "bad_request", "the body is not valid JSON (or nests too deep)"
            ) from None
    try:
        return LoginBody.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(422, "bad_request", describe_validation(exc.errors())) from None


Limit = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description="items per page, 1 to 1,000 (default 1,000)")
]
Cursor = Annotated[
    str | None,
    Query(description="the X-Next-Cursor header of the previous page; omit for the first"),
]
_PAGED = {
    "headers": {
        NEXT_CURSOR: {
            "description": "the cursor of the next page; absent on the last page",
            "schema": {"type": "string"},
        }
    }
}


@router.get(
    "/threads",
    response_model=list[ThreadOut],
    responses={200: _PAGED, **_errors(401, 422)},
    tags=["threads"],
)
async def list_threads(
    user: User, state: State, response: Response, limit: Limit = MAX_PAGE, cursor: Cursor = None
) -> list[dict[str, Any]]:
    """The user's threads, newest activity first, a page at a time."""
    after = read_thread_cursor(cursor) if cursor is not None else None
    threads = await state.store.list_threads(user, limit + 1, after=after)
    if len(threads) > limit:
        threads = threads[:limit]
        response.headers[NEXT_CURSOR] = thread_cursor(threads[-1])
    return [thread_out(thread) for thread in threads]


@router.post(
    "/threads",
    status_code=201,
    response_model=ThreadOut,
    responses=_errors(401, 422, 429),
    tags=["threads"],
)
async def create_thread(
    user: User, state: State, body: Annotated[NewThreadBody | None, Body()] = None
) -> dict[str, Any]:
    """A new, empty thread; without a title it takes one from its first message. New
    threads per user are limited (``GOLDPATH_THREADS_PER_MINUTE``)."""
    await state.caps.new_thread(user)
    title = body.title.strip() if body is not None and body.title else ""
    thread = await state.store.create_thread(user, title or DEFAULT_TITLE)
    return thread_out(thread)


@router.get(
    "/threads/{thread_id}",
    response_model=ThreadDetailOut,
    response_model_exclude_none=True,
    responses={200: _PAGED, **_errors(401, 404, 422)},
    tags=["threads"],
)
async def get_thread(
    thread_id: str,
    user: User,
    state: State,
    response: Response,
    limit: Limit = MAX_PAGE,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """A thread with its messages, oldest first, a page of messages at a time."""
    require_thread_id(thread_id)
    after = read_message_cursor(cursor) if cursor is not None else None
    thread = await state.store.get_thread(user, thread_id)
    try:
        messages = await state.store.list_messages(user, thread_id, limit + 1, after=after)
    except NotFoundError:  # the thread is the user's: the cursor names no message of it
        raise ApiError(422, "bad_request", "cursor: not a cursor of this thread") from None
    if len(messages) > limit:
        messages = messages[:limit]
        response.headers[NEXT_CURSOR] = message_cursor(messages[-1])
    return {**thread_out(thread), "messages": [message_out(m) for m in messages]}


@router.patch(
    "/threads/{thread_id}",
    response_model=ThreadOut,
    responses=_errors(401, 404, 422),
    tags=["threads"],
)
async def rename_thread(
    thread_id: str, body: RenameThreadBody, user: User, state: State
) -> dict[str, Any]:
    """Give the thread a new title; its place in the list (``updated_at``) stays."""
    require_thread_id(thread_id)
    title = body.title.strip()
    if not title:
        raise ApiError(422, "bad_request", "title: a thread's title cannot be empty")
    return thread_out(await state.store.rename_thread(user, thread_id, title))


@router.delete(
    "/threads/{thread_id}", status_code=204, responses=_errors(401, 404), tags=["threads"]
)
async def delete_thread(thread_id: str, user: User, state: State) -> Response:
    """Delete the thread with its messages, runs and their events; a run of it in flight
    is cancelled first."""
    require_thread_id(thread_id)
    await state.store.get_thread(user, thread_id)  # someone else's: 404 before anything
    await state.runs.stop_thread(user, thread_id)
    await state.store.delete_thread(user, thread_id)
    return Response(status_code=204)


@router.post(
    "/threads/{thread_id}/runs",
    status_code=202,
    response_model=RunAcceptedOut,
    responses=_errors(401, 404, 422, 429),
    tags=["runs"],
)
async def start_run(
    thread_id: str, body: RunBody, request: Request, user: User, state: State
) -> RunAcceptedOut:
    """Start a run on the thread; its events go to the user's stream (``/ws``)."""
    accepted = await state.runs.start(
        user,
        body.message,
        thread_id=thread_id,
        agent=body.agent,
        request_id=getattr(request.state, "request_id", None),
        audit={"source": "http", "address": request.client.host if request.client else None},
    )
    return RunAcceptedOut(run_id=accepted.run_id, thread_id=accepted.thread_id)


@router.get(
    "/runs/{run_id}",
    response_model=RunOut,
    responses=_errors(401, 404),
    tags=["runs"],
)
async def get_run(run_id: str, user: User, state: State) -> JSONResponse:
    """A run's status and, once finished, its answer or error."""
    require_run_id(run_id)
    return JSONResponse(run_out(await state.store.get_run(user, run_id)))


@router.post(
    "/runs/{run_id}/cancel",
    status_code=202,
    response_model=RunAcceptedOut,
    responses=_errors(401, 404, 409),
    tags=["runs"],
)
async def cancel_run(run_id: str, user: User, state: State) -> JSONResponse:
    """Ask a running run to stop; it ends with ``agent_completed`` status ``cancelled``."""
    await state.runs.cancel(user, run_id)
    record = await state.store.get_run(user, run_id)
    return JSONResponse({"run_id": run_id, "thread_id": record.thread_id}, status_code=202)


@router.post(
    "/runs/{run_id}/approvals/{call_id}",
    status_code=202,
    responses=_errors(401, 404, 409, 422, 429),
    tags=["runs"],
)
async def answer_approval(
    run_id: str, call_id: str, body: ApprovalBody, request: Request, user: User, state: State
) -> Response:
    """Approve or reject the call the run waits on; the run goes on (``approval_resolved``
    in the stream). 409 when the run is not waiting for that call (answered already)."""
    await state.runs.answer(
        user,
        run_id,
        call_id,
        body.answer(),
        request_id=getattr(request.state, "request_id", None),
        audit={"source": "http", "address": request.client.host if request.client else None},
    )
    return Response(status_code=202)


@router.get(
    "/runs/{run_id}/events",
    response_model=list[dict[str, Any]],
    response_description="the run's event frames as they were sent, oldest first",
    responses=_errors(401, 404, 422),
    tags=["runs"],
)
async def list_run_events(
    run_id: str,
    user: User,
    state: State,
    after: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="only events with a higher offset")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=RUN_EVENTS_LIMIT)] = RUN_EVENTS_LIMIT,
) -> Response:
    """The run's stored events, oldest first, each the frame that was sent: a finished
    run's are all there; a running run's are stored in batches (its newest ones are in the
    user's stream). Page with ``after`` = the last offset of the previous page."""
    require_run_id(run_id)
    await state.recorder.settle(run_id)  # what this process has queued, written first
    events = await state.store.list_run_events(user, run_id, after=after, limit=limit)
    body = "[" + ",".join([event.frame for event in events]) + "]"  # the frames as sent
    return Response(body, media_type="application/json")
