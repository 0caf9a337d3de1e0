-- wrk script for the agent HTTP benchmark. With BODY_FILE set, POSTs that file's contents as
-- JSON; otherwise GETs the URL. Prints one JSON line with latency percentiles (microseconds)
-- and requests per second when done.
local body_file = os.getenv("BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  wrk.headers["Content-Type"] = "application/json"
  f:close()
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"errors":%d,"non_2xx":%d,"rps":%.1f,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests / seconds, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
