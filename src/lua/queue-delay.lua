--[[ Moves a delayed job: to a new due time, or (due 0) into the ready queue now (promote).
  KEYS[1] ready: ready list
  KEYS[2] prioritized: prioritized zset (score priority * 2^32 + sequence)
  KEYS[3] delayed: delayed zset (score due time, ms)
  KEYS[4] wake: wake list (markers that wake idle workers)
  KEYS[5] prioritySequence: priority sequence counter
  KEYS[6] delayedPriorities: priorities of delayed jobs hash (id -> priority)
  ARGV[1] job id
  ARGV[2] new due time, ms (0 = now: the job is promoted)
  Reply: 1 moved, 0 the job is not delayed (waiting, running, finished or unknown)
]]
--- @include "priority-score"
--- @include "check-types"
local ready, prio, delayed, wake, pseq, dprio = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local refused = check_types({ ready, 'list', prio, 'zset', delayed, 'zset', wake, 'list', pseq, 'counter', dprio, 'hash' })
if refused then return refused end
local id, due = ARGV[1], tonumber(ARGV[2])
if not redis.call('ZSCORE', delayed, id) then return 0 end
if due > 0 then
  redis.call('ZADD', delayed, due, id)
else
  redis.call('ZREM', delayed, id)
  local priority = tonumber(redis.call('HGET', dprio, id) or '0') or 0
  redis.call('HDEL', dprio, id)
  if priority > 0 then
    add_prioritized(prio, pseq, id, priority)
  else
    redis.call('RPUSH', ready, id)
  end
end
-- Idle workers take the job, or re-arm their timer for its new due time.
if redis.call('RPUSH', wake, '1') > 64 then redis.call('LTRIM', wake, 0, 63) end
return 1
