"""The store's AG-UI threads: a client's own thread id, kept with the thread it names."""

from __future__ import annotations

import pytest

from goldpath.errors import ConflictError, NotFoundError
from goldpath.store import DEFAULT_TITLE, Store

pytestmark = pytest.mark.integration


async def test_an_agui_thread_is_made_once_and_keeps_the_client_id(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    await store.open_agui_thread(ann, "thr_a", "client-thread")
    await store.open_agui_thread(ann, "thr_a", "client-thread")  # already there: nothing
    threads = await store.list_threads(ann)
    assert [(t.thread_id, t.title) for t in threads] == [("thr_a", DEFAULT_TITLE)]
    assert await store.agui_thread_id(ann, "thr_a") == "client-thread"


async def test_someone_elses_thread_is_not_found(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    bob = (await store.create_user("bob", "hash")).user_id
    await store.open_agui_thread(ann, "thr_a", "client-thread")
    with pytest.raises(NotFoundError):
        await store.open_agui_thread(bob, "thr_a", "client-thread")
    with pytest.raises(NotFoundError):
        await store.agui_thread_id(bob, "thr_a")
    assert await store.list_threads(bob) == []


async def test_a_thread_not_made_through_agui_has_no_client_id(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    thread = await store.create_thread(ann)
    with pytest.raises(NotFoundError, match="not made by an AG-UI client"):
        await store.agui_thread_id(ann, thread.thread_id)


async def test_a_missing_user_gets_no_thread(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.open_agui_thread("usr_gone", "thr_a", "client-thread")


async def test_the_runs_a_thread_waits_on_are_read_without_taking_them(store: Store) -> None:
    """What a resume over AG-UI looks up: the thread's waiting runs and the calls they wait
    for; reading them leaves them waiting."""
    ann = (await store.create_user("ann", "hash")).user_id
    bob = (await store.create_user("bob", "hash")).user_id
    await store.open_agui_thread(ann, "thr_a", "client-thread")
    for run_id in ("run_1", "run_2"):
        await store.start_run(ann, "thr_a", run_id, "agent", "hi")
    await store.pause_run(
        ann, "run_2", call_id="call_x", state="{}", waits_for=60.0, next_event_seq=3
    )
    waiting = await store.waiting_runs(ann, "thr_a")
    assert [(p.run.run_id, p.call_id, p.state, p.next_event_seq) for p in waiting] == [
        ("run_2", "call_x", "{}", 3)
    ]
    assert (await store.paused_run(ann, "run_2")).call_id == "call_x"
    assert (await store.get_run(ann, "run_2")).status == "waiting"
    with pytest.raises(ConflictError):
        await store.paused_run(ann, "run_1")  # running, not waiting
    with pytest.raises(NotFoundError):
        await store.paused_run(bob, "run_2")
    with pytest.raises(NotFoundError):
        await store.waiting_runs(bob, "thr_a")


async def test_an_ag_ui_run_of_a_resume_names_its_run_once(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    bob = (await store.create_user("bob", "hash")).user_id
    await store.open_agui_thread(ann, "thr_a", "client-thread")
    await store.start_run(ann, "thr_a", "run_1", "agent", "hi")
    await store.add_agui_resume(ann, "run_2", "run_1", 1)
    run, answers = await store.agui_resumed_run(ann, "run_2")
    assert (run.run_id, answers) == ("run_1", 1)
    for used in ("run_2", "run_1"):  # an AG-UI run's id, or a run's
        with pytest.raises(ConflictError):
            await store.add_agui_resume(ann, used, "run_1", 2)
    with pytest.raises(NotFoundError):
        await store.agui_resumed_run(bob, "run_2")
    with pytest.raises(NotFoundError):
        await store.add_agui_resume(bob, "run_3", "run_1", 1)
    await store.delete_thread(ann, "thr_a")  # its runs go, and the AG-UI runs of them
    with pytest.raises(NotFoundError):
        await store.agui_resumed_run(ann, "run_2")
