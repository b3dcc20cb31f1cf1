"""AG-UI 1.0 over SSE: ``POST /ag-ui`` runs an agent for an AG-UI client and streams it;
``GET /ag-ui/runs/{runId}/events`` streams a run again, from where a client left it.

The run starts through the same `RunService` as ``/ws`` and ``POST /threads/{id}/runs``
(same limits, same owner checks); its events come from the user's stream, filtered to the
run and mapped by `RunMapping`. Nothing here touches the engine or keeps the stream: the
response reads the user's stream while the client listens, and the run goes on without it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from goldpath.context import is_real_id
from goldpath.errors import NotFoundError, SubscriptionClosedError
from goldpath.server._agui_input import ResumeEntry, RunAgentInput, agui_id
from goldpath.server._agui_interrupts import answer_interrupt, require_unused
from goldpath.server._agui_mapping import RunMapping, interrupted, sse
from goldpath.server._agui_replay import ResumedRun
from goldpath.server._errors import ApiError
from goldpath.server._http import State, User
from goldpath.server._run_rules import require_run_id
from goldpath.server._schemas import ErrorBody
from goldpath.server._sse import SSE_HEADERS
from goldpath.server._state import AppState
from goldpath.stream import Subscription

__all__ = ["RunAgentInput", "agui_id", "router"]

logger = logging.getLogger("goldpath.server.agui")

router = APIRouter(tags=["ag-ui"])


_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid access token"},
    404: {"model": ErrorBody, "description": "resume: no such thread for this user"},
    409: {
        "model": ErrorBody,
        "description": "runId was used already by this user; resume: no run of the thread "
        "waits for that call (answered already, or never asked)",
    },
    422: {"model": ErrorBody, "description": "not a RunAgentInput with a user message"},
    429: {"model": ErrorBody, "description": "rate limited; see the Retry-After header"},
}


@router.post(
    "/ag-ui",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **_REFUSALS},
)
async def run_agent(
    body: RunAgentInput, request: Request, state: State, user_id: User
) -> StreamingResponse:
    """Run the agent on the last user message of an AG-UI ``RunAgentInput`` and stream the
    run as AG-UI 1.0 events (SSE, each ``id: <epoch>:<offset>``); with ``resume``, answer
    the call a run of the thread waits for and stream that run going on. A refusal before
    the run starts is an HTTP error; once it started, the stream ends with RUN_FINISHED
    (outcome ``interrupt`` when the run waits for a person) or RUN_ERROR.
    """
    for name, value in (("threadId", body.thread_id), ("runId", body.run_id)):
        if not is_real_id(value):
            raise ApiError(422, "bad_request", f"{name} {value!r} cannot be an id; send a real id")
    entry = body.resume_entry()
    if entry is not None:
        return await _continue(body, entry, request, state, user_id)
    message = body.chat_message()
    thread_id = agui_id("thr", user_id, body.thread_id)
    subscription = await state.hub.for_user(user_id).subscribe()
    try:
        await require_unused(state.store, user_id, body.run_id)
        await _open_thread(state, user_id, thread_id, body.thread_id)
        accepted = await state.runs.start(
            user_id,
            message,
            thread_id=thread_id,
            agent=None,
            run_id=agui_id("run", user_id, body.run_id),
            request_id=getattr(request.state, "request_id", None),
            audit={"source": "ag-ui"},
        )
    except BaseException:
        subscription.close()
        raise
    mapping = RunMapping(body.thread_id, body.run_id)
    return StreamingResponse(
        live(subscription, accepted.run_id, mapping),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def _continue(
    body: RunAgentInput, entry: ResumeEntry, request: Request, state: AppState, user_id: str
) -> StreamingResponse:
    """Answer the call of ``entry`` (the run of the thread that waits for it goes on, here)
    and stream the rest of that run as the AG-UI run ``body.run_id``: from RUN_STARTED to
    its end, or to the next call it waits for."""
    subscription = await state.hub.for_user(user_id).subscribe()
    try:
        run_id = await answer_interrupt(
            state,
            user_id,
            (body.thread_id, body.run_id),
            entry,
            request_id=getattr(request.state, "request_id", None),
        )
    except BaseException:
        subscription.close()
        raise
    mapping = RunMapping(body.thread_id, body.run_id, after_answers=1)
    return StreamingResponse(
        live(subscription, run_id, mapping), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _open_thread(state: AppState, user_id: str, thread_id: str, client_id: str) -> None:
    """The user's thread for the client's ``threadId``, made on first use; a new one counts
    against the user's new threads a minute, as ``POST /threads`` does (429 past it)."""
    try:
        await state.store.agui_thread_id(user_id, thread_id)
    except NotFoundError:
        await state.caps.new_thread(user_id)
        await state.store.open_agui_thread(user_id, thread_id, client_id)


async def live(subscription: Subscription, run_id: str, mapping: RunMapping) -> AsyncIterator[str]:
    """The run's AG-UI events as they happen, to its RUN_FINISHED or RUN_ERROR.

    When the stream fails under it (the client fell too far behind, the stream's history
    was lost, the backend failed), the response still ends with a RUN_ERROR: it carries
    the id of the last event sent, so ``GET /ag-ui/runs/{runId}/events`` resumes from there.
    """
    epoch = subscription.epoch
    try:
        while not mapping.finished:
            event = await subscription.get()
            if event.run_id == run_id:
                for agui in mapping.map(event):
                    yield sse(epoch, agui)
    except SubscriptionClosedError as exc:
        yield _broken(epoch, mapping, f"the stream was interrupted ({exc.reason})")
    except Exception:
        logger.exception("AG-UI stream failed", extra={"run_id": run_id})
        yield _broken(epoch, mapping, "the stream failed on the server")
    finally:
        subscription.close()


def _broken(epoch: str, mapping: RunMapping, reason: str) -> str:
    return interrupted(f"{epoch}:{mapping.offset}", reason)


@router.get(
    "/ag-ui/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        401: _REFUSALS[401],
        404: {"model": ErrorBody, "description": "no such run for this user"},
        422: {"model": ErrorBody, "description": "Last-Event-ID is not <epoch>:<offset>"},
    },
)
async def run_events(
    run_id: str,
    state: State,
    user_id: User,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """goldpath's resume extension: the AG-UI events of the run ``run_id`` (the client's
    ``runId``, also of a run a resume started) after ``Last-Event-ID``, each exactly once,
    then live to the run's end (or its interrupt); without the header the whole run. When
    they can no longer be replayed from that id, a MESSAGES_SNAPSHOT of the thread at the
    run's end, then the events that end it."""
    position = _position(last_event_id)
    require_run_id(run_id)
    agui_run_id, answers = agui_id("run", user_id, run_id), 0
    try:
        run = await state.store.get_run(user_id, agui_run_id)
    except NotFoundError:  # an AG-UI run a resume started, or none
        run, answers = await state.store.agui_resumed_run(user_id, agui_run_id)
    thread_id = await state.store.agui_thread_id(user_id, run.thread_id)
    stream = state.hub.for_user(user_id)
    subscription = await stream.subscribe()
    try:
        await state.recorder.settle(run.run_id)  # what this process has queued, written first
    except BaseException:
        subscription.close()
        raise
    resumed = ResumedRun(
        state.store,
        stream,
        subscription,
        user_id,
        run,
        (thread_id, run_id),
        window=state.settings.history_events,
        after_answers=answers,
    )
    return StreamingResponse(
        resumed.events(position), media_type="text/event-stream", headers=SSE_HEADERS
    )


def _position(last_event_id: str | None) -> tuple[str, int] | None:
    if last_event_id is None:
        return None
    epoch, _, offset = last_event_id.strip().rpartition(":")
    if not epoch or not offset.isdigit() or not offset.isascii():
        raise ApiError(
            422,
            "bad_request",
            f"Last-Event-ID {last_event_id!r} is not an id this server sent (<epoch>:<offset>); "
            "send the id of the last event received, or none for the whole run",
        )
    return epoch, int(offset)
