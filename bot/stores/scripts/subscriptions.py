"""The Lua scripts bot/services/subscriptions.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# INCR the failure counter; the first failure starts the window, the one that reaches the limit
# turns the window into the lock (later failures do not lengthen it). Returns {failures, seconds
# locked (0 = not locked)}. Used for one person's failures and for everyone's on one case.
FAIL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local limit = tonumber(ARGV[2])
if n < limit then return {n, 0} end
if n == limit then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return {n, redis.call('TTL', KEYS[1])}
"""
