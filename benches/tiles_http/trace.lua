-- wrk script: each request takes a random line of the trace (seeded), prefixed with the
-- server's tile path. Reports latency percentiles and counts as one JSON line at the end.
--
--   wrk -t1 -c32 -d30s -s trace.lua http://127.0.0.1:PORT -- PREFIX TRACE [SEED] [AUTH]
--
-- PREFIX: "/tiles/hexagons/" (saferplaces) or "/hexagons/" (Martin). TRACE: a file of
-- `z/x/y` lines (trace.py). AUTH: an optional bearer token. Every request sends
-- `Accept-Encoding: gzip`. No response() callback: it would make wrk hand every body to Lua
-- and cost load-generator CPU; the 200/204 mix comes from status.py, errors from wrk's own
-- counters (non-2xx/3xx, socket errors).

local paths = {}
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix = args[1] or "/tiles/hexagons/"
  local trace = args[2] or "trace.txt"
  local seed = tonumber(args[3] or "5")
  local auth = args[4]
  for line in io.lines(trace) do
    if #line > 0 then
      paths[#paths + 1] = prefix .. line
    end
  end
  math.randomseed(seed + 7919 * (id or 0))
  wrk.headers["Accept-Encoding"] = "gzip"
  if auth and #auth > 0 then
    wrk.headers["Authorization"] = "Bearer " .. auth
  end
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"bytes":%d,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, secs, summary.requests / secs, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000, latency.mean / 1000,
    e.connect, e.read, e.write, e.status, e.timeout))
end
