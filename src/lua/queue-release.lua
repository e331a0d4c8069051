--[[ Gives leased jobs back without counting an attempt (a worker closing before its handlers finished).
  KEYS[1] active: active zset
  KEYS[2] ready: ready list
  KEYS[3] prioritized: prioritized zset
  KEYS[4] prioritySequence: priority sequence counter
  KEYS[5] wake: wake list
  KEYS[6] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1..] active members ('<token>:<job id>') to release
  Reply: number of jobs released (a lease already gone is skipped)
]]
--- @include "priority-score"
--- @include "check-types"
local checks = { KEYS[1], 'zset', KEYS[2], 'list', KEYS[3], 'zset', KEYS[4], 'counter', KEYS[5], 'list' }
for i = 1, #ARGV do
  local member = ARGV[i]
  checks[#checks + 1] = KEYS[6] .. string.sub(member, (string.find(member, ':', 1, true) or 0) + 1)
  checks[#checks + 1] = 'hash'
end
local refused = check_types(checks)
if refused then return refused end
local front = {}
local released = 0
for i = #ARGV, 1, -1 do
  local member = ARGV[i]
  if redis.call('ZREM', KEYS[1], member) == 1 then
    released = released + 1
    local id = string.sub(member, string.find(member, ':', 1, true) + 1)
    local key = KEYS[6] .. id
    if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'w', '0') end
    local priority = tonumber(redis.call('HGET', key, 'p') or '0') or 0
    if priority > 0 then
      add_prioritized(KEYS[3], KEYS[4], id, priority)
    else
      front[#front + 1] = id
    end
  end
end
if #front > 0 then redis.call('LPUSH', KEYS[2], unpack(front)) end
if released > 0 then redis.call('RPUSH', KEYS[5], '1') end
return released
