"""The Lua scripts bot/web/events.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# KEYS: seen marker, stream, the case's order list. ARGV: seen ttl, stream max length, event json,
# event id, request id.
# Appends the event unless its id was seen, and its entry to the case's order; returns 1 when
# appended, 0 for a repeat. The request id (`rid`) lets the notifier's logs carry the id of the
# request that brought the event. Safe to run twice (bot.stores.client.repeatable): a second run
# finds the marker and changes nothing, and its 0 is still a 2xx for the platform.
ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  local entry = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', ARGV[3], 'id', ARGV[4], 'rid', ARGV[5])
  redis.call('RPUSH', KEYS[3], entry)
  redis.call('EXPIRE', KEYS[3], ARGV[1])
  return 1
end
return 0
"""
