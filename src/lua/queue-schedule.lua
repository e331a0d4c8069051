--[[ Creates or replaces a repeating schedule and adds its first occurrence, atomically. Calling it
  again with the same version (an identical definition, e.g. every process at boot) changes nothing.
  KEYS[1] schedules: schedules hash (schedule id -> version)
  KEYS[2] scheduleDefinitions: schedule definitions hash (schedule id -> definition JSON)
  KEYS[3] scheduleNext: pending occurrence of each schedule hash (schedule id -> job id)
  KEYS[4] ready: ready list
  KEYS[5] prioritized: prioritized zset
  KEYS[6] delayed: delayed zset
  KEYS[7] delayedPriorities: priorities of delayed jobs hash
  KEYS[8] wake: wake list
  KEYS[9] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] schedule id
  ARGV[2] version (hash of the definition)
  ARGV[3] definition JSON
  ARGV[4] first occurrence's job id
  ARGV[5] encoded data
  ARGV[6] job options JSON
  ARGV[7] priority (0 = none)
  ARGV[8] due time of the first occurrence, ms
  ARGV[9] now, ms (client clock)
  Reply: 0 unchanged, 1 created or replaced, 2 created but the first occurrence already exists
    (it ran or is running: the caller adds the following one)
]]
--- @include "remove-waiting"
local sched, defs, schedNext, ready, prio, delayed, dprio, wake, jobPrefix =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local sid, version, def, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('HGET', sched, sid) == version then return 0 end
-- A replaced definition: its pending occurrence must not run with the old data.
local pending = redis.call('HGET', schedNext, sid)
if pending then
  if remove_waiting(ready, prio, delayed, dprio, pending) == 1 then redis.call('DEL', jobPrefix .. pending) end
end
redis.call('HSET', sched, sid, version)
redis.call('HSET', defs, sid, def)
redis.call('HSET', schedNext, sid, id)
local key = jobPrefix .. id
if redis.call('EXISTS', key) == 1 then return 2 end
local priority, due, now = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
if priority > 0 then
  redis.call('HSET', key, 'd', ARGV[5], 'o', ARGV[6], 't', now, 'p', priority)
else
  redis.call('HSET', key, 'd', ARGV[5], 'o', ARGV[6], 't', now)
end
local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
redis.call('ZADD', delayed, due, id)
if priority > 0 then redis.call('HSET', dprio, id, priority) end
if not head[2] or due < tonumber(head[2]) then redis.call('RPUSH', wake, '1') end
return 1
