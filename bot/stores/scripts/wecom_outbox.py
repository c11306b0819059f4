"""The Lua scripts bot/services/wecom_outbox.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# Shared by the scripts: ms until the member's rate allows one more message (0: now).
# KEYS[1]: the member's sent log; ARGV[1..4]: per minute, per hour, minute ms, hour ms.
WAIT = """
local function wait_ms(now)
  local per_minute, per_hour = tonumber(ARGV[1]), tonumber(ARGV[2])
  local minute, hour = tonumber(ARGV[3]), tonumber(ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - hour)
  local wait = 0
  local recent = redis.call('ZRANGEBYSCORE', KEYS[1], now - minute, '+inf', 'WITHSCORES')
  local n = #recent / 2
  if n >= per_minute then
    wait = tonumber(recent[(n - per_minute) * 2 + 2]) + minute - now + 1
  end
  local total = redis.call('ZCARD', KEYS[1])
  if total >= per_hour then
    local oldest = redis.call('ZRANGE', KEYS[1], total - per_hour, total - per_hour, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + hour - now + 1)
  end
  return wait
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: sent log, queue. ARGV: (WAIT's), message token, text, queue ttl s.
# {1, 0, 0}: send it now (it is counted). {0, ms until the rate allows one, 1 if nothing was
# waiting before}: it was queued. Nothing overtakes what waits: with a queue, it queues too.
SEND_OR_QUEUE = WAIT + """
local waiting = redis.call('LLEN', KEYS[2])
local wait = wait_ms(now)
if waiting == 0 and wait == 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, 0, 0}
end
redis.call('RPUSH', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return {0, math.max(wait, 1), waiting == 0 and 1 or 0}
"""

# KEYS: sent log, queue. ARGV: (WAIT's), message token, most bytes. Run under the member's
# lease (`Keys.wecom_flushing`, a bot.stores.Lease), so one process at a time takes from a queue.
# {1, n, text}: the first n waiting texts joined into one message, counted (SENT takes them
# off). {0, ms}: the rate allows nothing yet. {-2}: nothing waits.
TAKE = WAIT + """
if redis.call('LLEN', KEYS[2]) == 0 then return {-2} end
local wait = wait_ms(now)
if wait > 0 then return {0, wait} end
local joined, n = '', 0
for _, text in ipairs(redis.call('LRANGE', KEYS[2], 0, 99)) do
  local longer = n == 0 and text or joined .. '\\n' .. text
  if n > 0 and #longer > tonumber(ARGV[6]) then break end
  joined, n = longer, n + 1
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, n, joined}
"""

# KEYS: sent log, queue. ARGV: message token, texts sent (0: none, WeCom failed).
# Takes the sent texts off the queue and counts the message from now (WeCom has it: its own
# count started no later); returns how many texts still wait.
SENT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) > 0 then
  redis.call('LTRIM', KEYS[2], ARGV[2], -1)
  redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
end
return redis.call('LLEN', KEYS[2])
"""

# KEYS: sent log. ARGV: message token. Counts a message sent at once from when WeCom answered.
ANSWERED = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', 'GT', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return 1
"""
