-- wrk script for the agent HTTP benchmark. With BODY_FILE set, POSTs that file's contents as
-- JSON; otherwise GETs the URL. WRK_MODE changes the body per request (run wrk with -t1, so one
-- counter numbers every request):
--   ids       the BODY_FILE inference request with "id":"<ID_PREFIX><n>", n = 1, 2, ...
--   feedback  {"id":"<ID_PREFIX><n>","label":"<n mod 10>"}, n = 1 ... ID_COUNT, then again from 1
-- Prints one JSON line with latency percentiles (microseconds) and requests per second when done.
local body_file = os.getenv("BODY_FILE")
local mode = os.getenv("WRK_MODE") or ""
local prefix = os.getenv("ID_PREFIX") or "bench-"
local count = tonumber(os.getenv("ID_COUNT") or "0") or 0
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  f:close()
end
if mode == "feedback" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local n = 0
if mode == "ids" then
  local rest = wrk.body:sub(2)
  request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, '{"id":"' .. prefix .. n .. '",' .. rest)
  end
elseif mode == "feedback" then
  request = function()
    n = n % count + 1
    return wrk.format(nil, nil, nil, '{"id":"' .. prefix .. n .. '","label":"' .. (n % 10) .. '"}')
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"errors":%d,"non_2xx":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, seconds, summary.requests / seconds, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
