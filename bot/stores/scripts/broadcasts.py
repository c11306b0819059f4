"""The Lua scripts bot/services/broadcasts/workflow.py, bot/services/broadcasts/reports.py, bot/services/broadcasts/sending.py run: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

TRANSITION = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing:' end
for s in string.gmatch(ARGV[1], '%S+') do
  if s == status then
    redis.call('HSET', KEYS[1], 'status', ARGV[2])
    for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
    if ARGV[3] == 'add' then
      redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[4])
    elseif ARGV[3] == 'rem' then
      redis.call('ZREM', KEYS[2], ARGV[4])
    end
    return 'ok:' .. status
  end
end
return 'no:' .. status
"""

# WeChat's figures for a mass send, applied to its broadcast once both are known: the job's
# broadcast (written when its chunk is checkpointed) and WeChat's report (which may come first).
# Its recipients move from submitted to sent, filtered and failed; WeChat's figures are fitted to
# the chunk (whatever WeChat did not account for was not delivered). Returns {sent, filtered,
# failed}, or {} when not both are known yet or it was applied before.
APPLY_JOB = """
local function apply_job(job, bc, bid)
  local j = redis.call('HMGET', job, 'bid', 'size', 'sent', 'filtered')
  if j[1] ~= bid or not j[2] or not j[3] then return {} end
  if redis.call('HSETNX', job, 'applied', '1') == 0 then return {} end
  local size = tonumber(j[2])
  local sent = math.min(tonumber(j[3]), size)
  local filtered = math.min(tonumber(j[4]), size - sent)
  local failed = size - sent - filtered
  redis.call('HINCRBY', bc, 'n:submitted', -size)
  if sent > 0 then redis.call('HINCRBY', bc, 'n:sent', sent) end
  if filtered > 0 then redis.call('HINCRBY', bc, 'n:failed:filtered', filtered) end
  if failed > 0 then redis.call('HINCRBY', bc, 'n:failed:wechat_failed', failed) end
  redis.call('HINCRBY', bc, 'jobs_reported', 1)
  return {sent, filtered, failed}
end
"""

# KEYS: the mass job, its broadcast (the job again when not known yet). ARGV: broadcast id ('' =
# not known yet), sent, filtered, status, record ttl s. Keeps WeChat's first report on the job
# (its retries change nothing) and applies it if the job is filed. Returns what it applied.
JOB_REPORT = APPLY_JOB + """
if redis.call('HSETNX', KEYS[1], 'sent', ARGV[2]) == 1 then
  redis.call('HSET', KEYS[1], 'filtered', ARGV[3], 'status', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
if ARGV[1] == '' then return {} end
return apply_job(KEYS[1], KEYS[2], ARGV[1])
"""

# An outcome is final once written; "pending:<time>" (written just before the call) is not.
RECORD = """
local added = 0
for i = 1, #ARGV, 2 do
  local was = redis.call('HGET', KEYS[1], ARGV[i])
  if not was or string.sub(was, 1, 8) == 'pending:' then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[i + 1], 1)
    added = added + 1
  end
end
return added
"""

FORGET_PENDING = """
local was = redis.call('HGET', KEYS[1], ARGV[1])
if was and string.sub(was, 1, 8) == 'pending:' then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: broadcast, lease, the chunk's mass job (the broadcast again when it has none).
# ARGV: chunk, lease owner, broadcast id, the job's size (0: no job), record ttl s, then
# counter / increment pairs. Moves the checkpoint (fenced by the lease) and files the chunk's
# mass job under the broadcast, applying WeChat's report if it came first.
# Returns -1 (lease lost), 0 (checkpoint elsewhere), or {1, what the job's report applied}.
FINISH_CHUNK = APPLY_JOB + """
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
local done = tonumber(redis.call('HGET', KEYS[1], 'done_chunks') or '0')
if done ~= tonumber(ARGV[1]) - 1 then return 0 end
redis.call('HSET', KEYS[1], 'done_chunks', ARGV[1])
for i = 6, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
if tonumber(ARGV[4]) > 0 and redis.call('HSETNX', KEYS[3], 'bid', ARGV[3]) == 1 then
  redis.call('HSET', KEYS[3], 'size', ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[5])
  redis.call('HINCRBY', KEYS[1], 'jobs', 1)
  return {1, unpack(apply_job(KEYS[3], KEYS[1], ARGV[3]))}
end
return {1}
"""

# A sliding-window log shared by every process: WeChat counts calls in a sliding minute, so a
# fixed window could let twice the limit through around its edge. A call leaves the log when it
# is `window` old, as it leaves WeChat's count.
RATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + window - now, 1)
"""
