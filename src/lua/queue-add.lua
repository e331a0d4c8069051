--[[ Adds jobs to a queue: idempotent by job id, optionally bound to a repeating schedule.
  KEYS[1] ready: ready list (job ids, FIFO)
  KEYS[2] prioritized: prioritized zset (score priority * 2^32 + sequence)
  KEYS[3] delayed: delayed zset (score due time, ms)
  KEYS[4] wake: wake list (markers that wake idle workers)
  KEYS[5] prioritySequence: priority sequence counter
  KEYS[6] delayedPriorities: priorities of delayed jobs hash (id -> priority, only priorities > 0)
  KEYS[7] schedules: schedules hash (schedule id -> version)
  KEYS[8] scheduleNext: pending occurrence of each schedule hash (schedule id -> job id)
  KEYS[9] scheduleAdvance: zset of schedules whose next occurrence is to be added
  KEYS[10] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] now, ms (client clock; creation time and base of delays)
  ARGV[2] number of jobs N; then 8 values per job:
  ARGV[3] id
  ARGV[4] encoded data
  ARGV[5] options JSON
  ARGV[6] priority (0 = none)
  ARGV[7] due time in ms (0 = now)
  ARGV[8] check existence: 1 for caller-given ids (idempotent add), 0 for generated ones
  ARGV[9] schedule id ('' = not a schedule occurrence)
  ARGV[10] schedule version: the occurrence is added only while the schedule still has it and
    awaits its next occurrence (so a schedule never gets two pending occurrences)
  Reply: array with, per job, 1 added, 0 a job with that id already exists, -1 the schedule was
    cancelled or replaced, or its next occurrence was added already
]]
--- @include "priority-score"
--- @include "check-types"
local ready, prio, delayed, wake, pseq, dprio, sched, schedNext, advance, jobPrefix =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local replies = {}
local pushed = {}
local headBefore = nil
local headChecked = false
local earliest = nil
local prioAdded = 0

-- Every key this call may write, checked before the first write (see check-types). The wake list
-- too: a job added without its marker would wait for an idle worker's next safety look.
local checks = { wake, 'list' }
local jobKeys = {}
for i = 0, n - 1 do
  local base = 3 + i * 8
  local priority, due = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  -- A job's hash (checked below). A lone generated-id job needs no check: its HSET is then the
  -- script's first write, and a refusal there writes nothing.
  if n > 1 or ARGV[base + 5] == '1' or ARGV[base + 6] ~= '' then jobKeys[#jobKeys + 1] = jobPrefix .. ARGV[base] end
  if ARGV[base + 6] ~= '' then
    for _, c in ipairs({ sched, 'hash', schedNext, 'hash', advance, 'zset' }) do checks[#checks + 1] = c end
  end
  if due > now then
    for _, c in ipairs({ delayed, 'zset', dprio, 'hash' }) do checks[#checks + 1] = c end
  elseif priority > 0 then
    for _, c in ipairs({ prio, 'zset', pseq, 'counter' }) do checks[#checks + 1] = c end
  else
    checks[#checks + 1] = ready
    checks[#checks + 1] = 'list'
  end
end
-- One EXISTS for all the jobs' hashes (it also answers an idempotent add); only when some exist
-- is each one's TYPE looked at.
local found = {}
if #jobKeys > 0 and redis.call('EXISTS', unpack(jobKeys)) > 0 then
  for _, key in ipairs(jobKeys) do
    checks[#checks + 1] = key
    checks[#checks + 1] = 'hash'
  end
else
  for _, key in ipairs(jobKeys) do found[key] = 'none' end
end
local refused = check_types(checks, found)
if refused then return refused end
local written = {}

for i = 0, n - 1 do
  local base = 3 + i * 8
  local id, data, opts = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local priority, due = tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4])
  local unique, schedId, schedVersion = ARGV[base + 5], ARGV[base + 6], ARGV[base + 7]
  local key = jobPrefix .. id
  local reply = 1
  if schedId ~= '' and (redis.call('HGET', sched, schedId) ~= schedVersion or not redis.call('ZSCORE', advance, schedId)) then
    reply = -1
  elseif unique == '1' and (found[key] ~= 'none' or written[key]) then
    reply = 0
  end
  if reply == 1 then
    written[key] = true
    if priority > 0 then
      redis.call('HSET', key, 'd', data, 'o', opts, 't', now, 'p', priority)
    else
      redis.call('HSET', key, 'd', data, 'o', opts, 't', now)
    end
    if schedId ~= '' then
      redis.call('HSET', schedNext, schedId, id)
      redis.call('ZREM', advance, schedId)
    end
    if due > now then
      if not headChecked then
        headChecked = true
        local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
        if head[2] then headBefore = tonumber(head[2]) end
      end
      redis.call('ZADD', delayed, due, id)
      if priority > 0 then redis.call('HSET', dprio, id, priority) end
      if earliest == nil or due < earliest then earliest = due end
    elseif priority > 0 then
      add_prioritized(prio, pseq, id, priority)
      prioAdded = prioAdded + 1
    else
      pushed[#pushed + 1] = id
    end
  end
  replies[#replies + 1] = reply
end

local wakeUp = false
if #pushed > 0 and redis.call('RPUSH', ready, unpack(pushed)) == #pushed then wakeUp = true end
if prioAdded > 0 and redis.call('ZCARD', prio) == prioAdded then wakeUp = true end
-- A new earliest delayed job: an idle worker must re-arm its timer for it.
if earliest ~= nil and (headBefore == nil or earliest < headBefore) then wakeUp = true end
if wakeUp and redis.call('RPUSH', wake, '1') > 64 then redis.call('LTRIM', wake, 0, 63) end
return replies
