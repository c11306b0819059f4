"""The Lua scripts bot/workers/notifier.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# KEYS: the case's order list, the stream. ARGV: the entry.
# 2 when the entry heads its case's order: it may be sent, and the next one waits for it. 1 when
# it is not in the order at all (not filed by the receiver, or finished and delivered again: its
# fan-out only finds people already served): it waits for nobody. 0 while an earlier entry of
# its case is unfinished. Entries gone from the stream (trimmed, or the stream deleted) are
# dropped from the head first, so they never hold a case up. Safe to run twice: it only drops
# what is gone.
MAY_SEND = """
local head = redis.call('LINDEX', KEYS[1], 0)
while head do
  if head == ARGV[1] then return 2 end
  if #redis.call('XRANGE', KEYS[2], head, head) > 0 then
    if redis.call('LPOS', KEYS[1], ARGV[1]) then return 0 end
    return 1
  end
  redis.call('LPOP', KEYS[1])
  head = redis.call('LINDEX', KEYS[1], 0)
end
return 1
"""

# KEYS: the stream, the case's order list. ARGV: group, entry.
# Acknowledges the entry and takes it out of its case's order, in one step (no moment where it is
# acknowledged and still holds the case up); returns the case's next entry, or false. Safe to
# run twice: both are no-ops the second time.
FINISH = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[2], 1, ARGV[2])
return redis.call('LINDEX', KEYS[2], 0)
"""
