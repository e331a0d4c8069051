-- Puts a job in the prioritized zset. Score: priority * 2^32 + a per-queue sequence, so lower
-- priorities come first and jobs of one priority stay FIFO. Self-contained include.
local function add_prioritized(prioritized, sequence, id, priority)
  local seq = redis.call('INCR', sequence)
  redis.call('ZADD', prioritized, priority * 4294967296 + seq, id)
end
