"""The Lua scripts bot/services/handoff.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# KEYS: ticket. ARGV: agent, agent name, now, number ('' = any), ttl.
# Takes a waiting citizen (or a left message) for one agent; anyone else gets who took it.
CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
if (status == 'waiting' or status == 'note') and (ARGV[4] == '' or redis.call('HGET', KEYS[1], 'number') == ARGV[4]) then
  redis.call('HSET', KEYS[1], 'status', 'connected', 'agent', ARGV[1], 'agent_name', ARGV[2], 'accepted', ARGV[3], 'last', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return {1, status, ''}
end
return {0, status or '', redis.call('HGET', KEYS[1], 'agent_name') or ''}
"""

# KEYS: ticket. ARGV: statuses it may leave (space separated), new status, why, now, ttl,
# agent it must have ('' = any), idle cutoff ('' = none: only if `last` is not after it).
# Returns {1, old status, agent, number} when it moved, {0, status, last} when not.
MOVE = """
local t = redis.call('HMGET', KEYS[1], 'status', 'agent', 'last', 'number')
if not t[1] or not string.find(' ' .. ARGV[1] .. ' ', ' ' .. t[1] .. ' ', 1, true) then return {0, t[1] or '', t[3] or ''} end
if ARGV[6] ~= '' and t[2] ~= ARGV[6] then return {0, t[1], t[3] or ''} end
if ARGV[7] ~= '' and tonumber(t[3] or '0') > tonumber(ARGV[7]) then return {0, t[1], t[3] or ''} end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'moved_by', ARGV[3], 'moved', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, t[1], t[2] or '', t[4] or ''}
"""
