-- The frame every rate limiter script shares: ARGV[1] limit, ARGV[2] window (ms), ARGV[3...] one
-- cost per key; one decision per key, in KEYS order, each five numbers, then the server time.
-- Decisions run one after the other, so several on one key see each other. Self-contained include.

-- The limiter's limit and window.
local function ratelimit_args()
  return tonumber(ARGV[1]), tonumber(ARGV[2])
end

-- The typed error for a key holding data redkit did not write (the caller maps E_DECODE).
local function ratelimit_corrupt(what, key)
  return redis.error_reply('E_DECODE rate limiter ' .. what .. ' ' .. key .. ' holds data redkit did not write; reset() the key')
end

-- Runs `decide(key, cost)` for every key; the first error reply stops the batch.
local function ratelimit_run(decide, now)
  local out = {}
  for i = 1, #KEYS do
    local r = decide(KEYS[i], tonumber(ARGV[i + 2]))
    if r.err then return r end
    for j = 1, 5 do out[#out + 1] = r[j] end
  end
  out[#out + 1] = math.floor(now)
  return out
end
