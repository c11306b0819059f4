-- Replays the benchmark's precomputed webhook requests (bench/generator.py writes them):
-- BENCH_REQUESTS names the file, BENCH_PAUSE_MS > 0 paces every connection (a fixed rate).
-- Prints one line "BENCH {json}" at the end for the harness. Counts 2xx answers too short to
-- carry a reply ("success": an ack whose reply comes later) as "short".

local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
local requests = {}
local count = 0
local index = 0
short = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("BENCH_REQUESTS"), "rb"))
  while true do
    local target = f:read("*l")
    if not target then break end
    local size = tonumber(f:read("*l"))
    local body = f:read(size)
    count = count + 1
    requests[count] = wrk.format("POST", target, {["Content-Type"] = "text/xml"}, body)
  end
  f:close()
end

function request()
  index = index + 1
  if index > count then index = 1 end
  return requests[index]
end

if pause > 0 then
  function delay()
    return pause
  end
end

function response(status, headers, body)
  if status < 300 and #body < 64 then short = short + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  local shorts = 0
  for _, t in ipairs(threads) do shorts = shorts + (t:get("short") or 0) end
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d,"short":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, shorts))
end
