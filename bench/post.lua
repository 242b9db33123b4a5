-- wrk script: POST a message as one of many accounts, rotating credentials.
--
-- wrk -t T ... -s bench/post.lua <url> -- <credentials file> T <path> <field> [delay ms] [posts per thread]
--
-- The credentials file holds one Authorization header value a line. Thread n
-- of t uses lines n, n+t, n+2t, ..., so threads never share an account. With
-- a delay, every connection waits that long (give or take half) between
-- requests, which paces the load. With a number of posts per thread (give
-- each thread one connection, so that each request waits for the answer to
-- the one before), each thread sends exactly that many POSTs and stops.
-- done() prints one JSON line for bench/run.py.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local credentials = {}
local next_credential = 1
local path, field, delay_ms, quota
local posted, answered = 0, 0  -- posted: for the texts; answered POSTs count towards the quota
statuses = {}

function init(args)
  local id, t = wrk.thread:get("id"), tonumber(args[2])
  local index = 0
  for line in io.lines(args[1]) do
    if index % t == id - 1 then
      table.insert(credentials, line)
    end
    index = index + 1
  end
  path, field = args[3], args[4]
  delay_ms = tonumber(args[5] or "0")
  quota = tonumber(args[6] or "0")
  math.randomseed(id * 7919)
end

function request()
  -- wrk also calls this once to check the script, without sending: so the
  -- quota counts answers, never requests.
  if quota > 0 and answered >= quota then
    return wrk.format("GET", "/healthz")
  end
  posted = posted + 1
  local credential = credentials[next_credential]
  next_credential = next_credential % #credentials + 1
  local body = string.format('{"%s": "benchmark message %d from wrk thread %d"}', field, posted, wrk.thread:get("id"))
  return wrk.format("POST", path, {
    ["Authorization"] = credential,
    ["Content-Type"] = "application/json",
  }, body)
end

function delay()
  if delay_ms > 0 then
    return delay_ms * (0.5 + math.random())
  end
  return 0
end

function response(status, headers, body)
  -- GET /healthz answers 200; the POSTs never do (202, or an error).
  if status ~= 200 then
    answered = answered + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
  if quota > 0 and answered >= quota then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"duration_us": %d, "requests": %d, "statuses": {%s}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.duration, summary.requests, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
