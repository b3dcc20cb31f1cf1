"""The Redis keys of a user's stream and the Lua scripts that change them atomically.

Per user, under the hub's prefix (``goldpath:`` by default):

- ``<prefix>user:<user_id>:meta``   hash: ``epoch`` and ``offset`` (the newest offset).
  One key, so a flush or an eviction loses both or neither: an offset is never reused
  under an epoch it did not belong to.
- ``<prefix>user:<user_id>:events`` stream: entry id ``0-<offset>``, fields ``t`` (Redis
  time, ms) and ``f`` (the wire frame).
- ``<prefix>user:<user_id>:live``   pub/sub channel: ``<epoch> <frame>`` per event.

Every script runs atomically, so appends of one user from any number of processes are
serialised by Redis: offsets are gapless, the stream holds them in order, and each frame is
published in offset order.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["APPEND", "NEW_EPOCH", "POSITION", "READ", "UserKeys"]


@dataclass(frozen=True, slots=True)
class UserKeys:
    """The names of one user's keys and channel (see the module docstring)."""

    meta: str
    events: str
    channel: str

    @classmethod
    def of(cls, prefix: str, user_id: str) -> UserKeys:
        base = f"{prefix}user:{user_id}"
        return cls(f"{base}:meta", f"{base}:events", f"{base}:live")


# A stream whose meta hash is missing has lost its history (never written, flushed,
# restarted without persistence, expired): it gets the candidate epoch, and any events
# left under the old one are deleted, so ids restart at 0-1. Shared by the scripts below.
_ENSURE_EPOCH = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
"""

APPEND = (
    _ENSURE_EPOCH
    + """
-- ARGV: 1 candidate epoch, 2 frame head, 3 frame tail, 4 history events, 5 history ms,
--       6 history cap, 7 ttl ms, 8 channel
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
local frame = ARGV[2] .. offset .. ARGV[3]
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[6], '0-' .. offset, 't', ms, 'f', frame)
-- Offsets up to offset - history_events are kept only while younger than history ms.
-- Entries are gapless and in time order, so the expired ones are a prefix: find its end
-- by bisection (a few XRANGE calls) and trim it with MINID.
local last_old = offset - tonumber(ARGV[4])
if last_old >= 1 then
  local cutoff = ms - tonumber(ARGV[5])
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  local lo = tonumber(string.sub(first[1], 3))
  local function time_of(o)
    return tonumber(redis.call('XRANGE', KEYS[2], '0-' .. o, '0-' .. o)[1][2][2])
  end
  if lo <= last_old and tonumber(first[2][2]) < cutoff then
    local hi = last_old
    if time_of(hi) < cutoff then
      lo = hi
    else
      while hi - lo > 1 do
        local mid = math.floor((lo + hi) / 2)
        if time_of(mid) < cutoff then lo = mid else hi = mid end
      end
    end
    redis.call('XTRIM', KEYS[2], 'MINID', '0-' .. (lo + 1))
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('PUBLISH', ARGV[8], epoch .. ' ' .. frame)
return {offset, epoch}
"""
)

POSITION = (
    _ENSURE_EPOCH
    + """
-- ARGV: 1 candidate epoch, 2 ttl ms. A reader keeps the stream alive.
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return {epoch, tonumber(redis.call('HGET', KEYS[1], 'offset'))}
"""
)

READ = (
    _ENSURE_EPOCH
    + """
-- ARGV: 1 candidate epoch, 2 client's epoch, 3 client's offset, 4 ttl ms.
-- The position and the events after the offset, read together; Python judges them.
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local latest = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local after = tonumber(ARGV[3])
local entries = {}
if epoch == ARGV[2] and after >= 0 and after < latest then
  entries = redis.call('XRANGE', KEYS[2], '0-' .. (after + 1), '+')
end
return {epoch, latest, entries}
"""
)

NEW_EPOCH = """
-- KEYS: 1 meta, 2 events; ARGV: 1 new epoch, 2 ttl ms, 3 channel.
-- Appends of this user were lost (Redis failed under them): the history cannot be told
-- whole any more, so it starts again under a new epoch, and the epoch alone is published,
-- which makes every process close the user's subscribers with epoch_changed (a resync).
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'offset', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[1] .. ' ')
return 1
"""
