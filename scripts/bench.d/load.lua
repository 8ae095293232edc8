-- wrk script for scripts/bench: picks a random id per request, optionally mixes in writes, and
-- prints one JSON line of figures at the end. Settings come from the environment:
--   BENCH_IDS      file of ids, one per line (substituted for {id} in BENCH_PATH)
--   BENCH_PATH     request path, e.g. /api/v1/businesses/{id}/matches
--   BENCH_AUTH     value of the Authorization header (optional)
--   BENCH_WRITES   share of requests that are POST /api/v1/flows (0..1), using BENCH_SITES
--   BENCH_SITES    file of site ids for the writes
--   BENCH_RATE     requests a second this wrk thread sends (0 = as fast as the server answers);
--                  requests are paced on a monotonic clock, so the rate holds whatever the latency,
--                  as long as the connections suffice (rate x latency < connections)

local function lines(path)
  local out = {}
  if path == nil or path == "" then return out end
  local file = io.open(path, "r")
  if file == nil then return out end
  for line in file:lines() do
    if #line > 0 then out[#out + 1] = line end
  end
  file:close()
  return out
end

local ids, sites = {}, {}
local path = os.getenv("BENCH_PATH") or "/healthz"
local auth = os.getenv("BENCH_AUTH")
local writes = tonumber(os.getenv("BENCH_WRITES") or "0")
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local counter = 0

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *ts);
]]
local timespec = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end
-- The send time of the next request of this thread: one slot every 1000 / rate ms.
local next_slot = nil

function init(args)
  ids = lines(os.getenv("BENCH_IDS"))
  sites = lines(os.getenv("BENCH_SITES"))
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end

local function headers(json)
  local h = {}
  if auth ~= nil and auth ~= "" then h["Authorization"] = auth end
  if json then h["Content-Type"] = "application/json" end
  return h
end

function request()
  counter = counter + 1
  if writes > 0 and #sites > 0 and math.random() < writes then
    local site = sites[math.random(#sites)]
    local body = string.format(
      '{"site_id":"%s","direction":"offer","category":"heat.low_temp","quality":{"temperature_c":%d},"quantity":{"value":%d,"unit":"kW"}}',
      site, 60 + math.random(30), 50 + math.random(500))
    return wrk.format("POST", "/api/v1/flows", headers(true), body)
  end
  local p = path
  if #ids > 0 then p = p:gsub("{id}", ids[math.random(#ids)]) end
  return wrk.format("GET", p, headers(false))
end

if rate > 0 then
  function delay()
    local now = now_ms()
    -- A connection that comes back late takes the next free slot, never a burst of missed ones.
    next_slot = math.max((next_slot or now) + 1000 / rate, now)
    return math.floor(next_slot - now + 0.5)
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'BENCH {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p95_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors":%d,"non_2xx":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, errors, summary.errors.status))
end
