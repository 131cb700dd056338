-- One wrk scenario, configured through the environment by bench.py.
--   BENCH_METHOD   GET | POST                      (default GET)
--   BENCH_HEADERS  "Name: value\n..." extra headers
--   BENCH_BODY     request body; "{n}" becomes a per-request unique "<thread>-<counter>"
--   BENCH_EXPECT   "2xx" or "3xx": answers outside that class count as unexpected
--   BENCH_OUT      file for the one-line result
local method = os.getenv("BENCH_METHOD") or "GET"
local headers = os.getenv("BENCH_HEADERS") or ""
local body = os.getenv("BENCH_BODY") or ""
local expect = os.getenv("BENCH_EXPECT") or ""
local out = os.getenv("BENCH_OUT") or "/dev/stdout"

wrk.method = method
for line in headers:gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end
if body ~= "" then wrk.body = body end

local threads = {}
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  n = 0
  unexpected = 0
end

if body:find("{n}", 1, true) then
  function request()
    n = n + 1
    return wrk.format(nil, nil, nil, (body:gsub("{n}", tid .. "-" .. n)))
  end
end

if expect ~= "" then
  local lo = tonumber(expect:sub(1, 1)) * 100
  function response(status, headers, resp_body)
    if status < lo or status >= lo + 100 then unexpected = unexpected + 1 end
  end
end

function done(summary, latency, requests)
  local unexp = 0
  for _, t in ipairs(threads) do unexp = unexp + (t:get("unexpected") or 0) end
  local e = summary.errors
  local f = io.open(out, "w")
  f:write(string.format(
    "requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "status_err=%d unexpected=%d socket_err=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, e.status, unexp, e.connect + e.read + e.write + e.timeout))
  f:close()
end
