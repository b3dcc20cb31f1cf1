"""AG-UI 1.0 interrupts answered: a ``POST /ag-ui`` with ``resume`` continues the run that
waits for the call it names, as a new AG-UI run of the client's.

The interrupt's id is the call's id; the thread (AG-UI's rule: a resume comes on the thread
of the interrupted run) finds the run that waits for it. The new AG-UI run is kept in the
store with the goldpath run it is part of and after how many of its answers it starts, so
``GET /ag-ui/runs/{runId}/events`` can send it again (`RunMapping`'s ``after_answers``).
"""

from __future__ import annotations

import logging

from goldpath.errors import ConflictError, NotFoundError, StoreError
from goldpath.events import decode_event
from goldpath.server._agui_input import ResumeEntry, agui_id
from goldpath.server._state import AppState
from goldpath.store import Store

__all__ = ["answer_interrupt", "require_unused"]

logger = logging.getLogger("goldpath.server.agui")

PAGE = 1000


async def require_unused(store: Store, user_id: str, client_run_id: str) -> None:
    """`ConflictError` when the user's ``client_run_id`` names an AG-UI run already (a run,
    or a part of one a resume started): AG-UI runs ids are used once."""
    try:
        await store.agui_resumed_run(user_id, agui_id("run", user_id, client_run_id))
    except NotFoundError:
        return
    raise _used(client_run_id)


async def answer_interrupt(
    state: AppState,
    user_id: str,
    client: tuple[str, str],
    entry: ResumeEntry,
    *,
    request_id: str | None,
) -> str:
    """Answer the call ``entry`` names, of the run of the client's thread that waits for it,
    and keep the client's run id as the AG-UI run that continues it; returns the goldpath
    run's id. The run goes on as a task of this node.

    Refused before anything is answered: `ApiError` 422 for an entry without an answer,
    `NotFoundError` for a thread the user does not have, `ConflictError` when no run of it
    waits for that call or the run id was used, `TooManyRunsError` at the user's limit.
    """
    client_thread, client_run = client
    answer = entry.answer()
    waiting = [
        paused
        for paused in await state.store.waiting_runs(
            user_id, agui_id("thr", user_id, client_thread)
        )
        if paused.call_id == entry.interrupt_id
    ]
    if not waiting:
        raise ConflictError(
            f"no run of the thread {client_thread!r} waits for the call "
            f"{entry.interrupt_id!r} (answered already, ended, or never asked); "
            "send the next run without resume"
        )
    run_id = waiting[-1].run.run_id
    agui_run_id = agui_id("run", user_id, client_run)
    try:
        await state.store.get_run(user_id, agui_run_id)
    except NotFoundError:
        await require_unused(state.store, user_id, client_run)
    else:
        raise _used(client_run)
    answers = await _answers(state.store, user_id, run_id)
    await state.runs.answer(
        user_id,
        run_id,
        entry.interrupt_id,
        answer,
        request_id=request_id,
        audit={"source": "ag-ui"},
    )
    try:
        await state.store.add_agui_resume(user_id, agui_run_id, run_id, answers + 1)
    except (StoreError, ConflictError):
        # The run goes on and this response streams it; only a later replay of this
        # AG-UI run by its id will not find it.
        logger.warning(
            "could not keep the AG-UI run of a resume", exc_info=True, extra={"run_id": run_id}
        )
    return run_id


async def _answers(store: Store, user_id: str, run_id: str) -> int:
    """How many of its calls the waiting run has had answered: its ``approval_resolved``
    events, all stored by the time it waits."""
    count, after = 0, 0
    while True:
        page = await store.list_run_events(user_id, run_id, after=after, limit=PAGE)
        count += sum(decode_event(r.frame).type == "approval_resolved" for r in page)
        if len(page) < PAGE:
            return count
        after = page[-1].offset


def _used(client_run_id: str) -> ConflictError:
    return ConflictError(f"runId {client_run_id!r} was used already by this user; send a new runId")
