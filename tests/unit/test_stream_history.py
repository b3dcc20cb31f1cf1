"""stream/_history.py: the packed frames a user stream keeps for resume, and their edges."""

from __future__ import annotations

import gc
import random
from collections import deque

import pytest
from tests.helpers import history

from goldpath.events import MessageDelta
from goldpath.stream import InMemoryStreamHub, InMemoryUserStream, Replay, Resync
from goldpath.stream._history import BLOCK, FrameHistory

pytestmark = pytest.mark.unit

TS = "2026-01-01T00:00:00.000000Z"


def _frame(offset: int) -> str:
    return f'{{"offset":{offset},"delta":"é{"😀" * (offset % 3)}"}}'  # UTF-8 of varied width


def _fill(kept: FrameHistory, first: int, last: int, now: float = 0.0) -> None:
    for offset in range(first, last + 1):
        kept.append(offset, _frame(offset), now)


def _kept(kept: FrameHistory) -> list[str]:
    return kept.frames_after(kept.oldest_offset - 1)


def test_an_empty_history_keeps_nothing_and_starts_at_offset_one() -> None:
    kept = FrameHistory(keep_events=3, keep_seconds=60, cap=10)
    assert len(kept) == 0
    assert kept.oldest_offset == 1
    assert kept.newest_time == 0.0
    assert kept.frames_after(0) == []


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FrameHistory(keep_events=1, keep_seconds=1, cap=0)


@pytest.mark.parametrize(
    "appended", [1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 5, 3 * BLOCK, 10 * BLOCK + 7]
)
def test_the_window_moves_across_blocks_at_its_cap(appended: int) -> None:
    cap = 2 * BLOCK + 5
    kept = FrameHistory(keep_events=1, keep_seconds=3600, cap=cap)
    _fill(kept, 1, appended, now=5.0)
    oldest = max(1, appended - cap + 1)
    assert (len(kept), kept.oldest_offset) == (appended - oldest + 1, oldest)
    for offset in range(oldest - 1, appended + 1):  # every resume point, across block seams
        assert kept.frames_after(offset) == [_frame(o) for o in range(offset + 1, appended + 1)]
    assert kept.newest_time == 5.0


def test_a_block_is_released_once_its_last_kept_event_is_dropped() -> None:
    kept = FrameHistory(keep_events=1, keep_seconds=10, cap=10 * BLOCK)
    _fill(kept, 1, 3 * BLOCK, now=0.0)  # three sealed blocks
    assert (len(kept._sealed), kept._open) == (3, [])
    kept.append(3 * BLOCK + 1, "young", 11.0)  # everything else is old: all three go
    assert (len(kept._sealed), _kept(kept)) == (0, ["young"])
    _fill(kept, 3 * BLOCK + 2, 4 * BLOCK + 1, now=12.0)
    assert len(kept._sealed) == 1  # the block of the young one, now full, and sealed
    kept.append(4 * BLOCK + 2, "later", 30.0)  # the sealed one and the open one's first go
    assert (len(kept._sealed), _kept(kept)) == (0, ["later"])


def test_time_bound_keeps_young_frames_beyond_the_count_and_ages_out_the_rest() -> None:
    kept = FrameHistory(keep_events=2, keep_seconds=10, cap=100)
    _fill(kept, 1, 5, now=100.0)
    assert len(kept) == 5  # all young: kept beyond the count
    kept.append(6, "f6", 110.0)  # 10 s later: not older than the horizon yet
    assert len(kept) == 6
    kept.append(7, "f7", 110.5)  # now 1-5 are older than 10 s: down to the count, no further
    assert (_kept(kept), kept.oldest_offset) == (["f6", "f7"], 6)
    kept.append(8, "f8", 500.0)
    assert _kept(kept) == ["f7", "f8"]  # old ones beyond the count only


@pytest.mark.parametrize("seed", range(6))
def test_the_history_keeps_what_the_rule_keeps(seed: int) -> None:
    """Against the plain rule, written with a deque: random bounds, bursts and pauses."""
    rng = random.Random(seed)
    keep_events, cap = rng.randint(1, 2 * BLOCK), rng.randint(1, 4 * BLOCK)
    keep_seconds = rng.choice([0.0, 1.0, 5.0])
    kept = FrameHistory(keep_events=keep_events, keep_seconds=keep_seconds, cap=cap)
    rule: deque[tuple[int, float]] = deque()
    now = 0.0
    for offset in range(1, 12 * BLOCK):
        now += rng.choice([0.0, 0.0, 0.01, 0.5, 3.0])
        kept.append(offset, _frame(offset), now)
        rule.append((offset, now))
        while len(rule) > cap or (len(rule) > keep_events and now - rule[0][1] > keep_seconds):
            rule.popleft()
        assert (kept.oldest_offset, len(kept)) == (rule[0][0], len(rule))
        assert len(kept._sealed) == len(range((rule[0][0] - 1) // BLOCK, offset // BLOCK))
        if offset % 23 == 0:
            assert _kept(kept) == [_frame(o) for o, _ in rule]
            middle = rule[len(rule) // 2][0]
            assert kept.frames_after(middle) == [_frame(o) for o, _ in rule if o > middle]


def _stream(events: int, seconds: float = 3600.0, cap: int = 50) -> InMemoryUserStream:
    return InMemoryStreamHub(
        history_events=events, history_seconds=seconds, history_cap=cap
    ).for_user("u1")


async def _append(stream: InMemoryUserStream, n: int) -> None:
    for i in range(n):
        await stream.append("r1", "t1", "a", TS, MessageDelta(str(i)))


async def test_resume_exactly_at_the_oldest_kept_offset_and_just_before_it() -> None:
    stream = _stream(events=1, cap=BLOCK + 10)
    await _append(stream, 3 * BLOCK + 3)
    newest = 3 * BLOCK + 3
    oldest = newest - BLOCK - 9
    at_oldest = await stream.read_after(stream.epoch, oldest)
    assert isinstance(at_oldest, Replay)
    assert [e.offset for e in at_oldest.events] == list(range(oldest + 1, newest + 1))
    missing_none = await stream.read_after(stream.epoch, oldest - 1)
    assert isinstance(missing_none, Replay)
    assert [e.offset for e in missing_none.events] == list(range(oldest, newest + 1))
    missing_one = await stream.read_after(stream.epoch, oldest - 2)
    assert missing_one == Resync("history_expired", stream.epoch, newest)


async def test_a_replay_is_decoded_from_the_frames_that_were_sent() -> None:
    stream = _stream(events=BLOCK + 3, cap=BLOCK + 3)
    sent = [
        await stream.append("r1", "t1", "a", TS, MessageDelta(f"δ😀{i}"))
        for i in range(BLOCK + 3)  # a sealed block and an open one
    ]
    replayed = await history(stream)
    assert replayed == sent  # offsets, ids, data, the very frame text, the epoch
    assert all(r.json == s.json and r is not s for r, s in zip(replayed, sent, strict=True))


async def test_a_new_epoch_does_not_match_the_old_history() -> None:
    hub = InMemoryStreamHub(history_events=5, history_seconds=0.0, idle_seconds=0.0)
    old = hub.for_user("u1")
    await _append(old, 8)
    hub.forget_idle()  # the history is lost: the next stream has a new epoch
    new = hub.for_user("u1")
    await _append(new, 8)
    assert await new.read_after(old.epoch, 5) == Resync("epoch_changed", new.epoch, 8)
    replay = await new.read_after(new.epoch, 5)
    assert isinstance(replay, Replay)
    assert {e.epoch for e in replay.events} == {new.epoch}


async def test_history_adds_no_gc_tracked_object_per_event() -> None:
    """The point of packing: a full history is not more work for the cyclic collector."""
    stream = _stream(events=2000, cap=2000)
    await _append(stream, 10)
    gc.collect()
    before = len(gc.get_objects())
    await _append(stream, 1500)  # 23 blocks sealed
    gc.collect()
    assert len(gc.get_objects()) - before < 10
    assert len(await history(stream)) == 1510
