-- wrk script for the hub API benchmark: GETs the paths in PATHS_FILE (one per line) in turn,
-- each wrk thread from its own offset, with the headers given to wrk (-H). Prints one JSON line
-- with latency percentiles (microseconds), requests per second and bytes per response when done.
local next_id = 0
function setup(thread)
  thread:set("offset", next_id)
  next_id = next_id + 1
end

local paths = {}
local n = 0
function init(args)
  local f = assert(io.open(os.getenv("PATHS_FILE"), "r"))
  for line in f:lines() do
    if line ~= "" then paths[#paths + 1] = line end
  end
  f:close()
  n = ((offset or 0) * 7919) % #paths
end

function request()
  n = n % #paths + 1
  return wrk.format("GET", paths[n])
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format(
    '{"requests":%d,"errors":%d,"non_2xx":%d,"seconds":%.3f,"rps":%.1f,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f,"bytes_per_response":%.0f}\n',
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, seconds, summary.requests / seconds, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.bytes / math.max(summary.requests, 1)))
end
