--[[
  Rate limiter, token bucket as GCRA (generic cell rate algorithm), on the server's clock: one
  number per key, the theoretical arrival time (TAT). A bucket of `limit` tokens refills one token
  every window/limit ms; a request of cost c is allowed when TAT + c * interval - window <= now.
  KEYS[1...] tats: one per decision (string: the theoretical arrival time, server ms with fractions)
  ARGV[1] limit: bucket capacity (positive integer)
  ARGV[2] window in ms: time to refill the whole bucket (positive integer)
  ARGV[3] cost of the decision on KEYS[1] (positive integer <= limit; 0 = peek: decide as for cost 1, record nothing); one per key
  Reply: {allowed 0|1, remaining, resetMs, retryAfterMs, retryOneMs} per decision, in KEYS order, then the server time in ms
  Decisions run one after the other: several on one key see each other.
]]
--- @include "server-time"
--- @include "ratelimit-run"
local limit, window = ratelimit_args()
local now = server_time_precise_ms()
local interval = window / limit

local function store(key, tat)
  redis.call('SET', key, string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
end

local function decide(key, cost)
  local stored = redis.call('GET', key)
  local tat = now
  if stored then
    tat = tonumber(stored)
    if not tat or tat ~= tat then return ratelimit_corrupt('state', key) end
    if tat > now + window then
      -- More than a full window ahead: a server clock stepped back, a failover to a replica whose
      -- clock is behind, or a planted value. Stored clamped (with its expiry), so a denial never
      -- outlasts one window and the retry-after it promises holds.
      tat = now + window
      store(key, tat)
    end
    if tat < now then tat = now end
  end

  local allowed = 0
  local effective = math.max(cost, 1)
  local allowAt = tat + effective * interval - window
  if now >= allowAt - 1e-6 then
    allowed = 1
    if cost > 0 then
      tat = tat + cost * interval
      store(key, tat)
    end
  end

  local remaining = math.floor((window - (tat - now)) / interval + 1e-6)
  if remaining < 0 then remaining = 0 end
  if remaining > limit then remaining = limit end
  local retryAfter = 0
  if allowed == 0 then retryAfter = math.ceil(allowAt - now) end
  local retryOne = math.max(0, math.ceil(tat + interval - window - now - 1e-6))
  return allowed, remaining, math.ceil(tat - now), retryAfter, retryOne
end

return ratelimit_run(decide, now)
