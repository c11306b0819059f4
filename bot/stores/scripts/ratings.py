"""The Lua scripts bot/services/ratings.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# Invite unless already rated; a repeated invitation keeps the first (so one reminder only).
# KEYS: given, pending. ARGV: case_no, invitation json, pending ttl. Returns 1 when new.
INVITE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
local created = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return created
"""
