--[[ Deletes waiting jobs (and delayed ones, with their schedules, when asked), a batch per call.
  Without the delayed ones, schedules go on: a due occurrence deleted here is skipped and the
  schedule's next occurrence is added by the next worker's recovery pass.
  KEYS[1] ready: ready list
  KEYS[2] prioritized: prioritized zset
  KEYS[3] delayed: delayed zset
  KEYS[4] delayedPriorities: priorities of delayed jobs hash
  KEYS[5] schedules: schedules hash
  KEYS[6] scheduleDefinitions: schedule definitions hash
  KEYS[7] scheduleNext: pending occurrence of each schedule hash
  KEYS[8] scheduleAdvance: zset of schedules whose next occurrence is to be added
  KEYS[9] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] 1 = delayed jobs and schedules too
  ARGV[2] batch size
  Reply: number of jobs deleted by this call (call again until it is 0)
]]
--- @include "schedule-advance"
--- @include "check-types"
local refused = check_types({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'zset', KEYS[4], 'hash', KEYS[7], 'hash', KEYS[8], 'zset' })
if refused then return refused end
local batch = tonumber(ARGV[2])
local ids = redis.call('LRANGE', KEYS[1], 0, batch - 1)
if #ids > 0 then
  redis.call('LTRIM', KEYS[1], #ids, -1)
else
  ids = redis.call('ZRANGE', KEYS[2], 0, batch - 1)
  if #ids > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, #ids - 1)
  elseif ARGV[1] == '1' then
    ids = redis.call('ZRANGE', KEYS[3], 0, batch - 1)
    if #ids > 0 then
      redis.call('ZREMRANGEBYRANK', KEYS[3], 0, #ids - 1)
      redis.call('HDEL', KEYS[4], unpack(ids))
    else
      redis.call('DEL', KEYS[5], KEYS[6], KEYS[7], KEYS[8])
    end
  end
end
if #ids == 0 then return 0 end
local keys = {}
for i, id in ipairs(ids) do
  keys[i] = KEYS[9] .. id
  if ARGV[1] ~= '1' then mark_advance(KEYS[7], KEYS[8], id, 0) end
end
redis.call('DEL', unpack(keys))
return #ids
