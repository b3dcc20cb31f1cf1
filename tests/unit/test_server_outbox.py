"""`Outbox`: a connection's outbound frames leave in order, to one waiting reader."""

from __future__ import annotations

import asyncio

import pytest

from goldpath.server._outbox import Outbox

pytestmark = pytest.mark.unit


async def test_items_leave_in_the_order_they_were_put() -> None:
    box: Outbox[str] = Outbox()
    assert box.empty()
    for item in ("a", "b", "c"):
        box.put_nowait(item)
    assert box.qsize() == 3
    assert not box.empty()
    assert [await box.get() for _ in range(3)] == ["a", "b", "c"]
    assert box.empty()


async def test_a_waiting_reader_gets_the_next_item() -> None:
    box: Outbox[int] = Outbox()
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)  # the reader is now waiting on an empty outbox
    assert not reader.done()
    box.put_nowait(1)
    box.put_nowait(2)  # the reader is already woken: nothing to wake twice
    assert await reader == 1
    assert await box.get() == 2


async def test_a_cancelled_reader_leaves_the_outbox_usable() -> None:
    box: Outbox[int] = Outbox()
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    box.put_nowait(7)
    assert await box.get() == 7


async def test_a_second_reader_is_refused() -> None:
    box: Outbox[int] = Outbox()
    first = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await box.get()
    box.put_nowait(3)
    assert await first == 3
