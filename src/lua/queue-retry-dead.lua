--[[ Moves dead-lettered jobs back to the queue with a fresh set of attempts (the last error is kept).
  KEYS[1] dead: dead zset
  KEYS[2] ready: ready list
  KEYS[3] prioritized: prioritized zset
  KEYS[4] prioritySequence: priority sequence counter
  KEYS[5] wake: wake list
  KEYS[6] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] at most this many jobs, oldest first (used when no ids are given)
  ARGV[2..] specific job ids (optional)
  Reply: number of jobs moved back
]]
--- @include "priority-score"
--- @include "check-types"
local ids = {}
if #ARGV > 1 then
  for i = 2, #ARGV do
    if redis.call('ZSCORE', KEYS[1], ARGV[i]) then ids[#ids + 1] = ARGV[i] end
  end
else
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
end
if #ids == 0 then return 0 end
local checks = { KEYS[2], 'list', KEYS[3], 'zset', KEYS[4], 'counter', KEYS[5], 'list' }
for _, id in ipairs(ids) do
  checks[#checks + 1] = KEYS[6] .. id
  checks[#checks + 1] = 'hash'
end
local refused = check_types(checks)
if refused then return refused end
redis.call('ZREM', KEYS[1], unpack(ids))
local plain = {}
for _, id in ipairs(ids) do
  local key = KEYS[6] .. id
  redis.call('HDEL', key, 'a', 'f', 'k', 's', 'w')
  local priority = tonumber(redis.call('HGET', key, 'p') or '0') or 0
  if priority > 0 then
    add_prioritized(KEYS[3], KEYS[4], id, priority)
  else
    plain[#plain + 1] = id
  end
end
if #plain > 0 then redis.call('RPUSH', KEYS[2], unpack(plain)) end
redis.call('RPUSH', KEYS[5], '1')
return #ids
