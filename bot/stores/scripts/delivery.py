"""The Lua scripts bot/services/delivery.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# KEYS: record. ARGV: now, user, key, kind, template, case_no, ttl. Run under the notice's lease.
# Returns {0, state} when the record is final, else {attempts so far including this one, previous state}.
BEGIN = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'sent' or state == 'unreachable' or state == 'failed' then return {0, state} end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'state', 'sending', 'user', ARGV[2], 'key', ARGV[3], 'kind', ARGV[4],
  'template', ARGV[5], 'case_no', ARGV[6], 'at', ARGV[1])
redis.call('HSETNX', KEYS[1], 'first_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[7])
return {attempts, state or ''}
"""

# KEYS: record. ARGV: ttl, then field/value pairs. Records the result. Safe to run twice
# (bot.stores.client.repeatable): the same fields are set again.
FINISH = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""
