"""The store's accounts and thread edits on every backend: listing, deleting and re-keying
users, token validity and revocation, renaming and deleting threads, keyset paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from goldpath.errors import NotFoundError
from goldpath.store import RunEventRecord, Store

pytestmark = pytest.mark.integration

LATER = datetime.now(UTC) + timedelta(hours=1)


async def test_users_are_listed_deleted_and_given_new_passwords(store: Store) -> None:
    ann = await store.create_user("Ann", "hash-1")
    bob = await store.create_user("bob", "hash")
    assert [u.username for u in await store.list_users()] == ["Ann", "bob"]
    assert ann.token_version == 0
    changed = await store.set_password("ANN", "hash-2")
    assert (changed.user_id, changed.password_hash, changed.token_version) == (
        ann.user_id,
        "hash-2",
        1,
    )
    assert (await store.set_password("ann", "hash-3")).token_version == 2
    assert (await store.delete_user("bob")).user_id == bob.user_id
    assert [u.username for u in await store.list_users()] == ["Ann"]
    for missing in (store.delete_user("bob"), store.set_password("nobody", "h")):
        with pytest.raises(NotFoundError, match="goldpath user list"):
            await missing


async def test_a_token_is_valid_until_revoked_or_its_version_moves(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    bob = (await store.create_user("bob", "hash")).user_id
    assert await store.token_valid(ann, 0, "tok_1")
    assert not await store.token_valid(ann, 1, "tok_1")
    assert not await store.token_valid("usr_gone", 0, "tok_1")
    await store.revoke_token(ann, "tok_1", LATER)
    await store.revoke_token(ann, "tok_1", LATER)  # again: nothing changes
    assert not await store.token_valid(ann, 0, "tok_1")
    assert await store.token_valid(ann, 0, "tok_2")
    assert await store.token_valid(bob, 0, "tok_1")  # a jti is revoked for its own user
    await store.set_password("ann", "new")
    assert not await store.token_valid(ann, 0, "tok_2")
    assert await store.token_valid(ann, 1, "tok_2")
    await store.delete_user("ann")
    assert not await store.token_valid(ann, 1, "tok_2")


async def test_an_expired_revocation_is_forgotten(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    await store.revoke_token(ann, "tok_old", datetime.now(UTC) - timedelta(seconds=1))
    assert await store.token_valid(ann, 0, "tok_old")  # expired anyway: not kept


async def test_deleting_a_user_deletes_what_they_own(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    bob = (await store.create_user("bob", "hash")).user_id
    thread = await store.create_thread(ann, "mine")
    kept = await store.create_thread(bob, "theirs")
    await store.start_run(ann, thread.thread_id, "run_1", "supervisor", "hello")
    await store.delete_user("ann")
    with pytest.raises(NotFoundError):
        await store.get_run(ann, "run_1")
    assert [t.thread_id for t in await store.list_threads(bob)] == [kept.thread_id]


async def test_a_thread_is_renamed_in_place_and_deleted_with_all_it_holds(
    store: Store,
) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    bob = (await store.create_user("bob", "hash")).user_id
    thread = await store.create_thread(ann, "first")
    renamed = await store.rename_thread(ann, thread.thread_id, "second")
    assert (renamed.title, renamed.updated_at) == ("second", thread.updated_at)
    with pytest.raises(NotFoundError):
        await store.rename_thread(bob, thread.thread_id, "theirs")
    with pytest.raises(ValueError, match="empty"):
        await store.rename_thread(ann, thread.thread_id, "  ")
    await store.start_run(ann, thread.thread_id, "run_1", "supervisor", "hello")
    frame = '{"type":"agent_started"}'
    await store.append_run_events(ann, "run_1", [RunEventRecord(1, "ep", 1, frame)])
    with pytest.raises(NotFoundError):
        await store.delete_thread(bob, thread.thread_id)
    await store.delete_thread(ann, thread.thread_id)
    with pytest.raises(NotFoundError):
        await store.get_thread(ann, thread.thread_id)
    with pytest.raises(NotFoundError):
        await store.get_run(ann, "run_1")
    with pytest.raises(NotFoundError):
        await store.delete_thread(ann, thread.thread_id)


async def test_threads_and_messages_are_paged_by_the_last_item_seen(store: Store) -> None:
    ann = (await store.create_user("ann", "hash")).user_id
    made = [await store.create_thread(ann, f"t{n}") for n in range(5)]
    first = await store.list_threads(ann, 2)
    assert [t.thread_id for t in first] == [made[4].thread_id, made[3].thread_id]
    last = first[-1]
    rest = await store.list_threads(ann, 10, after=(last.updated_at, last.thread_id))
    assert [t.thread_id for t in rest] == [t.thread_id for t in reversed(made[:3])]
    thread_id = made[0].thread_id
    for n in range(4):
        await store.add_message(ann, thread_id, "user", f"m{n}")
    page = await store.list_messages(ann, thread_id, 3)
    assert [m.text for m in page] == ["m0", "m1", "m2"]
    after = await store.list_messages(ann, thread_id, 3, after=page[-1].message_id)
    assert [m.text for m in after] == ["m3"]
    with pytest.raises(NotFoundError, match="has no message"):
        await store.list_messages(ann, thread_id, after="msg_gone")
