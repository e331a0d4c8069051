--[[ Creates, replaces or repairs a repeating schedule and adds its first occurrence, atomically.
  Calling it again with the same version (an identical definition, e.g. every process at boot)
  changes nothing while the schedule has its one pending occurrence; when that occurrence is gone
  (drained, removed, lost) and no advance is under way, it adds the first occurrence again.
  KEYS[1] schedules: schedules hash (schedule id -> version)
  KEYS[2] scheduleDefinitions: schedule definitions hash (schedule id -> definition JSON)
  KEYS[3] scheduleNext: pending occurrence of each schedule hash (schedule id -> job id)
  KEYS[4] scheduleAdvance: zset of schedules whose next occurrence is to be added
  KEYS[5] ready: ready list
  KEYS[6] prioritized: prioritized zset
  KEYS[7] delayed: delayed zset
  KEYS[8] delayedPriorities: priorities of delayed jobs hash
  KEYS[9] wake: wake list
  KEYS[10] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] schedule id
  ARGV[2] version (hash of the definition)
  ARGV[3] definition JSON (with the job template workers use to add later occurrences)
  ARGV[4] first occurrence's job id
  ARGV[5] encoded data
  ARGV[6] job options JSON
  ARGV[7] priority (0 = none)
  ARGV[8] due time of the first occurrence, ms
  ARGV[9] now, ms (client clock)
  Reply: { 0 unchanged, 1 created or replaced, 2 repaired (its pending occurrence was missing);
    1 when the first occurrence already exists (it ran or runs: the caller adds the following one) else 0 }
]]
--- @include "remove-waiting"
--- @include "server-time"
--- @include "check-types"
local refused = check_types({ KEYS[1], 'hash', KEYS[2], 'hash', KEYS[3], 'hash', KEYS[4], 'zset', KEYS[5], 'list', KEYS[6], 'zset',
  KEYS[7], 'zset', KEYS[8], 'hash', KEYS[9], 'list', KEYS[10] .. ARGV[4], 'hash' })
if refused then return refused end
local sched, defs, schedNext, advance, ready, prio, delayed, dprio, wake, jobPrefix =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local sid, version, def, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local change = 1
local pending = redis.call('HGET', schedNext, sid)
if redis.call('HGET', sched, sid) == version then
  -- Same definition: the template may come from an older redkit that stored none.
  redis.call('HSET', defs, sid, def)
  if redis.call('ZSCORE', advance, sid) then return { 0, 0 } end
  if pending and is_waiting(ready, prio, delayed, pending) then return { 0, 0 } end
  change = 2
elseif pending then
  -- A replaced definition: its pending occurrence must not run with the old data.
  if remove_waiting(ready, prio, delayed, dprio, pending) == 1 then redis.call('DEL', jobPrefix .. pending) end
  redis.call('ZREM', advance, sid)
end
redis.call('HSET', sched, sid, version)
redis.call('HSET', defs, sid, def)
redis.call('HSET', schedNext, sid, id)
local key = jobPrefix .. id
if redis.call('EXISTS', key) == 1 then
  redis.call('ZADD', advance, server_time_ms(), sid)
  return { change, 1 }
end
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
return { change, 0 }
