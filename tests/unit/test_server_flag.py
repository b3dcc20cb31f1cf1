"""`Flag`: waiters wake when it is set, as with `asyncio.Event`."""

from __future__ import annotations

import asyncio

import pytest

from goldpath.server._flag import Flag

pytestmark = pytest.mark.unit


async def test_a_set_flag_is_not_waited_for() -> None:
    flag = Flag()
    assert not flag.is_set()
    flag.set()
    assert flag.is_set()
    assert await flag.wait() is True
    flag.clear()
    assert not flag.is_set()


async def test_setting_wakes_every_waiter() -> None:
    flag = Flag()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)  # all three are waiting
    assert not any(task.done() for task in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True, True]


async def test_a_cancelled_waiter_is_forgotten() -> None:
    flag = Flag()
    gone = asyncio.create_task(flag.wait())
    staying = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    flag.set()
    assert await staying is True


async def test_a_waiter_woken_then_cancelled_before_it_runs() -> None:
    flag = Flag()
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    flag.set()  # its future is resolved and the list dropped before it resumes
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert flag.is_set()
