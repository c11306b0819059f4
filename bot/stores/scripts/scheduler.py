"""The Lua scripts bot/workers/scheduler.py runs: every change that must be atomic across keys.

Kept here, with every other script, so the Redis side of the product is in one room (bot/stores);
the feature registers them (redis-py reloads a script after a NOSCRIPT) and says what each call means.
"""

# KEYS: due, job, done. ARGV: id, due, kind, payload.
# Returns 1 when scheduled, 0 when that job already ran.
SCHEDULE = """
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'kind', ARGV[3], 'payload', ARGV[4], 'attempts', 0)
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 1
"""

# KEYS: due. ARGV: now, lease, limit, job key prefix, done key prefix, claim token.
# Returns {id, kind, payload, attempts, ...} for each job claimed. Jobs that ran already (or
# whose hash is gone) are dropped from the due set on the way.
CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local job = ARGV[4] .. id
  if redis.call('EXISTS', ARGV[5] .. id) == 1 or redis.call('EXISTS', job) == 0 then
    redis.call('ZREM', KEYS[1], id)
    redis.call('DEL', job)
  else
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id)
    local attempts = redis.call('HINCRBY', job, 'attempts', 1)
    redis.call('HSET', job, 'claim', ARGV[6])
    local fields = redis.call('HMGET', job, 'kind', 'payload')
    out[#out + 1] = id
    out[#out + 1] = fields[1] or ''
    out[#out + 1] = fields[2] or '{}'
    out[#out + 1] = tostring(attempts)
  end
end
return out
"""

# KEYS: due, job, done. ARGV: id, claim token, done ttl, outcome.
# Only the run that holds the claim may finish the job: a job rescheduled or retaken meanwhile
# is left alone.
FINISH = """
if redis.call('HGET', KEYS[2], 'claim') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[3])
return 1
"""

# KEYS: due, job. ARGV: id, claim token, when to try again.
RETRY = """
if redis.call('HGET', KEYS[2], 'claim') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[2], 'claim')
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""
