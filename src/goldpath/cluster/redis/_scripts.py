"""The cluster's Redis keys and the Lua scripts that check and change them atomically.

Under the prefix (``goldpath:`` by default, shared with the user streams):

- ``<prefix>slots:<user_id>``         sorted set: the user's runs in flight, each scored
  with the Redis time (ms) its slot expires unless its node renews it;
- ``<prefix>rate:<window>:<key>``     sorted set: the hits inside a window, scored with
  their Redis time (ms);
- ``<prefix>node:<node_id>:cancel``   pub/sub channel: run ids the node is asked to cancel.

Times are Redis's own (``TIME``), so the nodes' clocks do not matter; every check and its
change are one script, so concurrent requests on any number of nodes cannot both pass.
"""

from __future__ import annotations

__all__ = ["RATE_HIT", "RENEW_SLOTS", "TAKE_SLOT"]

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

TAKE_SLOT = (
    _NOW
    + """
-- KEYS[1] the user's slots; ARGV: 1 run id, 2 limit, 3 slot ttl ms. 1 if taken, else 0.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)

RENEW_SLOTS = (
    _NOW
    + """
-- KEYS: the slots of each run, in order; ARGV: 1 slot ttl ms, then the run ids.
local expires = now + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expires, ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS
"""
)

RATE_HIT = (
    _NOW
    + """
-- KEYS[1] the window's hits; ARGV: 1 window ms, 2 limit, 3 a unique member for this hit,
-- 4 mode: 'reserve' (check, and record when allowed), 'check' (record nothing), 'record'
-- (record whatever the count). 0 when allowed, else the ms until the oldest hit leaves.
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[4] ~= 'record' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
if ARGV[4] == 'check' then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""
)
