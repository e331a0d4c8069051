--[[ Changes the priority of a job that has not started (waiting, prioritized or delayed).
  KEYS[1] ready: ready list
  KEYS[2] prioritized: prioritized zset (score priority * 2^32 + sequence)
  KEYS[3] delayed: delayed zset
  KEYS[4] wake: wake list
  KEYS[5] prioritySequence: priority sequence counter
  KEYS[6] delayedPriorities: priorities of delayed jobs hash (id -> priority)
  KEYS[7] jobKey: job hash
  ARGV[1] job id
  ARGV[2] new priority (0 = none)
  Reply: 1 changed (or already that priority), 0 the job does not wait (running, finished or unknown)
  A job without a priority is found in the ready list with LREM (a scan of the list).
]]
--- @include "priority-score"
--- @include "check-types"
local ready, prio, delayed, wake, pseq, dprio, job = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local refused = check_types({ ready, 'list', prio, 'zset', delayed, 'zset', wake, 'list', pseq, 'counter', dprio, 'hash', job, 'hash' })
if refused then return refused end
local id, priority = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', job) == 0 then return 0 end
local current = tonumber(redis.call('HGET', job, 'p') or '0') or 0
if redis.call('ZSCORE', delayed, id) then
  if priority > 0 then
    redis.call('HSET', dprio, id, priority)
  else
    redis.call('HDEL', dprio, id)
  end
elseif redis.call('ZSCORE', prio, id) or (current == 0 and redis.call('HGET', job, 'w') ~= '1') then
  if priority == current then return 1 end
  local found = redis.call('ZREM', prio, id)
  if found == 0 then found = redis.call('LREM', ready, 1, id) end
  if found == 0 then return 0 end
  if priority > 0 then
    add_prioritized(prio, pseq, id, priority)
  else
    redis.call('RPUSH', ready, id)
  end
  if redis.call('RPUSH', wake, '1') > 64 then redis.call('LTRIM', wake, 0, 63) end
else
  return 0
end
if priority > 0 then
  redis.call('HSET', job, 'p', priority)
else
  redis.call('HDEL', job, 'p')
end
return 1
