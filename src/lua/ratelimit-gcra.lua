--[[
  Rate limiter, token bucket as GCRA (generic cell rate algorithm), on the server's clock: one
  number per key, the theoretical arrival time (TAT). A bucket of `limit` tokens refills one token
  every window/limit ms; a request of cost c is allowed when TAT + c * interval - window <= now.
  KEYS[1] tat (string: server time in ms, with fractions)
  ARGV[1] limit: bucket capacity (positive integer)
  ARGV[2] window in ms: time to refill the whole bucket (positive integer)
  ARGV[3] cost (positive integer <= limit; 0 = peek: decide as for cost 1, record nothing)
  Reply: {allowed 0|1, remaining, resetMs, retryAfterMs, retryOneMs, server time ms}
]]
--- @include "server-time"
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = server_time_precise_ms()
local interval = window / limit

local stored = redis.call('GET', key)
local tat = now
if stored then
  tat = tonumber(stored)
  if not tat or tat ~= tat then
    return redis.error_reply('E_DECODE rate limiter state ' .. key .. ' is not a number redkit wrote; reset() the key')
  end
  -- Never more than one full window ahead (a planted value or a server clock stepped back).
  if tat > now + window then tat = now + window end
  if tat < now then tat = now end
end

local allowed = 0
local effective = math.max(cost, 1)
local allowAt = tat + effective * interval - window
if now >= allowAt - 1e-6 then
  allowed = 1
  if cost > 0 then
    tat = tat + cost * interval
    redis.call('SET', key, string.format('%.3f', tat), 'PX', math.max(1, math.ceil(tat - now)))
  end
end

local remaining = math.floor((window - (tat - now)) / interval + 1e-6)
if remaining < 0 then remaining = 0 end
if remaining > limit then remaining = limit end
local retryAfter = 0
if allowed == 0 then retryAfter = math.ceil(allowAt - now) end
local retryOne = math.max(0, math.ceil(tat + interval - window - now - 1e-6))
return {allowed, remaining, math.ceil(tat - now), retryAfter, retryOne, math.floor(now)}
