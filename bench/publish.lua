-- wrk script: POST one kind of publishing request as one of many credentials, rotating them.
--
-- wrk -t T ... -s bench/publish.lua <url> -- <headers file> T <path> <content type> <body>
--
-- The headers file holds one "Name: value" header a line (the request's credential). Thread n
-- of t uses lines n, n+t, n+2t, ..., so threads never share one. In the body, %d is replaced by
-- a counter. done() prints one JSON line for bench/publish_bench.py: the answers by status.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local credentials = {}
local next_credential = 1
local path, content_type, body
local posted = 0
statuses = {}

function init(args)
  local id, t = wrk.thread:get("id"), tonumber(args[2])
  local index = 0
  for line in io.lines(args[1]) do
    if index % t == id - 1 then
      local name, value = line:match("^([^:]+):%s*(.*)$")
      table.insert(credentials, {name, value})
    end
    index = index + 1
  end
  path, content_type, body = args[3], args[4], args[5]
end

function request()
  posted = posted + 1
  local credential = credentials[next_credential]
  next_credential = next_credential % #credentials + 1
  local headers = {["Content-Type"] = content_type}
  headers[credential[1]] = credential[2]
  return wrk.format("POST", path, headers, string.format(body, posted))
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  io.write(string.format(
    'BENCH-RESULT {"duration_us": %d, "requests": %d, "statuses": {%s}, ' ..
    '"latency_us": {"p50": %d, "p99": %d}}\n',
    summary.duration, summary.requests, table.concat(parts, ", "),
    latency:percentile(50), latency:percentile(99)
  ))
end
