-- The server's clock in epoch ms: every deadline, lease and score is on this one clock, never the
-- clients' (which drift apart). Self-contained include.
local function server_time_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The same clock with the microseconds kept as a fraction of a ms (for rates finer than 1 ms).
local function server_time_precise_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end

-- The same instant in ms and in µs, from one TIME call (fencing tokens need µs).
local function server_time_ms_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), tonumber(t[1]) * 1000000 + tonumber(t[2])
end
