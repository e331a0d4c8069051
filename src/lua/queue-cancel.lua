--[[ Cancels a job that has not started (waiting or delayed) and/or a repeating schedule.
  KEYS[1] ready: ready list
  KEYS[2] prioritized: prioritized zset
  KEYS[3] delayed: delayed zset
  KEYS[4] delayedPriorities: priorities of delayed jobs hash
  KEYS[5] schedules: schedules hash
  KEYS[6] scheduleDefinitions: schedule definitions hash
  KEYS[7] scheduleNext: pending occurrence of each schedule hash
  KEYS[8] scheduleAdvance: zset of schedules whose next occurrence is to be added
  KEYS[9] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] job id to cancel ('' = none); a schedule's pending occurrence is skipped, the schedule goes on
  ARGV[2] schedule id to cancel ('' = none): its pending occurrence is cancelled too
  Reply: { 1 when a job was removed else 0, 1 when a schedule was removed else 0 }
]]
--- @include "remove-waiting"
--- @include "schedule-advance"
--- @include "check-types"
local refused = check_types({ KEYS[1], 'list', KEYS[2], 'zset', KEYS[3], 'zset', KEYS[4], 'hash', KEYS[5], 'hash', KEYS[6], 'hash', KEYS[7], 'hash', KEYS[8], 'zset' })
if refused then return refused end
local jobId, schedId = ARGV[1], ARGV[2]
local removedSchedule = 0
local candidates = {}
if jobId ~= '' then candidates[#candidates + 1] = jobId end
if schedId ~= '' then
  local pending = redis.call('HGET', KEYS[7], schedId)
  if pending then candidates[#candidates + 1] = pending end
  removedSchedule = redis.call('HDEL', KEYS[5], schedId)
  redis.call('HDEL', KEYS[6], schedId)
  redis.call('HDEL', KEYS[7], schedId)
  redis.call('ZREM', KEYS[8], schedId)
end
local removedJob = 0
for _, id in ipairs(candidates) do
  if remove_waiting(KEYS[1], KEYS[2], KEYS[3], KEYS[4], id) == 1 then
    redis.call('DEL', KEYS[9] .. id)
    -- Removing one occurrence of a live schedule skips that run only: the next is added.
    mark_advance(KEYS[7], KEYS[8], id, 0)
    if id == jobId or jobId == '' then removedJob = 1 end
  end
end
return { removedJob, removedSchedule }
