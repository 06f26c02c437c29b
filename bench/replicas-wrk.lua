-- wrk script of bench/replicas.ts: echo tools/calls on MCP sessions the bench opened, rotating over
-- their ids (BENCH_SESSIONS, comma-separated; nginx routes each by its replica prefix). Every answer is
-- checked; done() prints one JSON line with the latency quantiles (microseconds) and the counts.
local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  ids = {}
  for id in string.gmatch(os.getenv("BENCH_SESSIONS"), "[^,]+") do ids[#ids + 1] = id end
  token = os.getenv("BENCH_TOKEN")
  counter = 0
  bad = 0
  -- JSON-RPC ids unique across threads: two in flight with one id on one session would collide.
  base = (tid + 1) * 1000000000
end

function request()
  counter = counter + 1
  local n = base + counter
  local body = '{"jsonrpc":"2.0","id":' .. n .. ',"method":"tools/call","params":{"name":"echo","arguments":{"message":"w' .. n .. '"}}}'
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "2025-06-18",
    ["Mcp-Session-Id"] = ids[(counter % #ids) + 1],
  }, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"Echo: w', 1, true) then bad = bad + 1 end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do bad_total = bad_total + thread:get("bad") end
  io.write(string.format('WRK_JSON {"requests":%d,"durationUs":%d,"bad":%d,"socketErrors":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"mean":%f}\n',
    summary.requests, summary.duration, bad_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
