-- The frame every rate limiter script shares: ARGV[1] limit, ARGV[2] window (ms), then the
-- script's own arguments if any (`heads` counts them all, 2 when it has none), then one cost per key;
-- one decision per key, in KEYS order, each five numbers, then the server time.
-- Decisions run one after the other, so several on one key see each other. Self-contained include.

-- The limiter's limit and window.
local function ratelimit_args()
  return tonumber(ARGV[1]), tonumber(ARGV[2])
end

-- The typed error for a key holding data redkit did not write (the caller maps E_DECODE).
local function ratelimit_corrupt(what, key)
  return redis.error_reply('E_DECODE rate limiter ' .. what .. ' ' .. key .. ' holds data redkit did not write; reset() the key')
end

-- Runs `decide(key, cost)` for every key (costs from ARGV[heads + 1], heads = 2 unless given). A
-- decision returns its five numbers (no table per decision), or an error reply, which stops the batch.
local function ratelimit_run(decide, now, heads)
  heads = heads or 2
  local out = {}
  local n = 0
  for i = 1, #KEYS do
    local allowed, remaining, reset, retryAfter, retryOne = decide(KEYS[i], tonumber(ARGV[i + heads]))
    if type(allowed) == 'table' then return allowed end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4], out[n + 5] = allowed, remaining, reset, retryAfter, retryOne
    n = n + 5
  end
  out[n + 1] = math.floor(now)
  return out
end
